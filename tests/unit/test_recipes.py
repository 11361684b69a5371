"""The maintainer's recipes hold (docs/maintainers.md, "Recipes"):

- a new lender is one entry in the knowledge file;
- a new letter is a knowledge entry, a template and a test.

Each test copies the knowledge file (and the letter templates) to a scratch
folder, adds the dummy there, points the loaders at the copy and checks that
everything that uses the concept picks it up, with no other file changed.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

import knowledge
from letters import registry, render
from letters.message import letter_message
from scripts import build_domain_responses

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A copy of the knowledge file and the templates that the loaders read."""
    kb_file = tmp_path / "anxin.yml"
    shutil.copy(knowledge.KNOWLEDGE_FILE, kb_file)
    templates = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES, templates)
    monkeypatch.setattr(knowledge, "KNOWLEDGE_FILE", kb_file)
    monkeypatch.setattr(render, "TEMPLATES", templates)
    render._environment.cache_clear()
    yield kb_file, templates
    render._environment.cache_clear()


def edit(kb_file: Path, change) -> None:
    data = yaml.safe_load(kb_file.read_text(encoding="utf-8"))
    change(data)
    kb_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_a_new_lender_is_one_knowledge_entry(scratch):
    kb_file, _ = scratch

    def add(data):
        data["lenders"]["demo_finance"] = {
            "products": ["示例借"],
            "aliases": ["示例借", "示例金融"],
            "legal_name": "示例消费金融有限公司",
            "type": "consumer_finance",
            "regulator": "国家金融监督管理总局示例监管局",
            "hotline": None,
            "confidence": "B",
            "source": "recipe test",
        }

    edit(kb_file, add)
    kb = knowledge.load()
    assert kb.resolve_lender("我在示例借上借了两万") == "demo_finance"
    assert kb.lender("demo_finance").legal_name == "示例消费金融有限公司"
    # Where to complain follows from its type: no code names it.
    steps = "\n".join(kb.complaint_steps("demo_finance"))
    assert "12378" in steps


def test_a_new_letter_is_a_knowledge_entry_and_a_template(scratch):
    kb_file, templates = scratch

    def add(data):
        data["letters"]["demo_notice"] = {
            "label": "示例告知书",
            "words": ["示例告知"],
            "requires": ["author_name", "lender_name", "date"],
            "title": "示例告知书",
            "recipient": "示例收件方",
            "channel": "示例方式",
            "legal_basis": ["civil_code_1033"],
            "response_deadline": {
                "days": None,
                "text": "以示例为准",
                "confidence": "C",
                "source": "recipe test",
            },
        }

    edit(kb_file, add)
    (templates / "demo_notice.j2").write_text(
        "致 {{ v.lender_name }}：\n署名：{{ v.author_name }}\n", encoding="utf-8"
    )
    kb = knowledge.load()

    # The registry: label, trigger words, the form slots the facts need.
    assert registry.kind_in("帮我写一份示例告知", kb) == "demo_notice"
    demo = registry.get("demo_notice", kb)
    assert demo.form_slots == ("lender", "letter_lender_name", "letter_author_name")
    # The domain: a slot value and a menu button, generated.
    generated = yaml.safe_load(build_domain_responses.render(kb))
    assert "demo_notice" in generated["slots"]["letter_kind"]["values"]
    buttons = generated["responses"]["utter_ask_letter_kind"][0]["buttons"]
    assert {"title": "示例告知书", "payload": "写示例告知书"} in buttons
    assert f"1 到 {len(kb.letters)}" in generated["responses"]["utter_explain_letter_kind"][0]["text"]
    # Rendering, and the one message the channels show (with its label).
    letter = render.render_letter("demo_notice", {"author_name": "王丽", "date": date(2026, 12, 4)}, kb)
    assert "署名：王丽" in letter.body and letter.missing == ["lender_name"]
    assert letter_message(letter, date(2026, 12, 4))["label"] == "示例告知书"


def test_the_committed_domain_matches_the_registry():
    """The generated domain file is what the knowledge file gives (else `make train`)."""
    target = ROOT / "domain" / "knowledge_responses.yml"
    assert target.read_text(encoding="utf-8") == build_domain_responses.render(knowledge.load())
