"""The NLU data keeps its promises: enough examples per intent, and the test
sets (held-out and blind) never leak into training, even after normalising
(a Traditional-character copy of a test sentence is still a copy)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from nlu.text import normalize

ROOT = Path(__file__).resolve().parents[2]
MIN_EXAMPLES = 15  # per intent (the FAQ counts as one intent)


def examples(paths) -> list[tuple[str, str]]:
    found = []
    for path in paths:
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            for line in (block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    found.append((block["intent"], line.strip()[2:].strip()))
    return found


TRAINING = examples(sorted((ROOT / "data/nlu").glob("*.yml")))
TEST_SETS = {
    "held-out": examples(sorted((ROOT / "tests").glob("nlu_heldout*.yml"))),
    "blind": examples([ROOT / "tests/nlu_blind.yml"]),
}


def test_every_intent_has_enough_examples():
    counts = Counter(intent.split("/")[0] for intent, _ in TRAINING)
    assert {i: n for i, n in counts.items() if n < MIN_EXAMPLES} == {}


@pytest.mark.parametrize("name", sorted(TEST_SETS))
def test_test_sets_never_leak_into_training(name):
    trained = {normalize(text) for _, text in TRAINING}
    leaked = [text for _, text in TEST_SETS[name] if normalize(text) in trained]
    assert leaked == []


@pytest.mark.parametrize("name", sorted(TEST_SETS))
def test_test_sets_use_only_trained_labels(name):
    labels = {intent for intent, _ in TRAINING}
    assert {intent for intent, _ in TEST_SETS[name]} - labels == set()


def test_no_sentence_is_taught_two_labels():
    labels: dict[str, set[str]] = {}
    for intent, text in TRAINING:
        labels.setdefault(normalize(text), set()).add(intent)
    assert {t: ls for t, ls in labels.items() if len(ls) > 1} == {}
