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
    nlu = yaml.safe_load((ROOT / "data/nlu/faq.yml").read_text(encoding="utf-8"))["nlu"]
    trained = {block["intent"] for block in nlu}
    for key in kb.faq:
        assert f"utter_faq/{key}" in responses
        assert f"faq/{key}" in trained, f"no training examples for faq/{key}"
