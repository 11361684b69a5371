"""domain/knowledge_responses.yml is generated from the knowledge file and in sync."""

import subprocess
import sys
from pathlib import Path

import yaml

import knowledge

ROOT = Path(__file__).resolve().parents[2]


def test_generated_responses_are_up_to_date():
    result = subprocess.run(
        [sys.executable, "scripts/build_domain_responses.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_faq_key_has_a_response_and_training_examples():
    kb = knowledge.load()
    responses = yaml.safe_load((ROOT / "domain/knowledge_responses.yml").read_text(encoding="utf-8"))[
        "responses"
    ]
    trained = {
        block.get("intent")
        for path in (ROOT / "data/nlu").glob("*.yml")
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]
    }
    for key in kb.faq:
        assert f"utter_faq/{key}" in responses
        assert f"faq/{key}" in trained, f"no training examples for faq/{key}"
