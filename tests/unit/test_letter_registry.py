"""One registry of letter types: the knowledge file, the domain, the actions
and the web client must agree (issue #16, points 1-3 and 5).

Each test names the place that disagrees, so the failure says what to fix.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from letters import registry
from letters.render import FIELD_LABELS, TEMPLATES
from tests.unit.conftest import project_domain

ROOT = Path(__file__).resolve().parents[2]
# Facts no form slot supplies: the log, the lender entry or the day give them.
FROM_ELSEWHERE = {"lender_type", "collector_numbers", "incidents", "evidence", "date"}


def test_each_letter_type_is_complete(kb):
    labels = [t.label for t in registry.letter_types(kb)]
    assert len(set(labels)) == len(labels), "two letter types share a label"
    for letter_type in registry.letter_types(kb):
        kind = letter_type.kind
        assert (TEMPLATES / f"{kind}.j2").is_file(), f"no template letters/templates/{kind}.j2"
        assert letter_type.words, f"{kind}: no trigger words"
        unknown = set(letter_type.requires) - set(FIELD_LABELS)
        assert not unknown, f"{kind} requires facts render.FIELD_LABELS does not know: {unknown}"
        for word in letter_type.words:
            assert registry.kind_in(f"帮我写{word}", kb) is not None, f"{kind}: {word!r} picks nothing"


def test_every_required_fact_has_a_source(kb):
    """A fact is asked by the form (registry.FORM_SLOTS) or read elsewhere."""
    asked = {fact for _, fact in registry.FORM_SLOTS}
    for letter_type in registry.letter_types(kb):
        orphans = set(letter_type.requires) - asked - FROM_ELSEWHERE
        assert not orphans, f"{letter_type.kind}: nothing supplies {orphans}"


def test_other_letter_references_in_the_knowledge_file_name_known_kinds(kb):
    kinds = set(registry.kinds(kb))
    assert set(kb.letter_match_order) <= kinds
    for entry in kb.data.get("submission_channels", []):
        assert entry["kind"] in kinds, f"submission_channels: {entry['word']} → unknown {entry['kind']}"


def test_the_domain_menu_is_the_registry(kb):
    domain = project_domain()
    types = registry.letter_types(kb)
    assert domain["slots"]["letter_kind"]["values"] == [t.kind for t in types]
    buttons = domain["responses"]["utter_ask_letter_kind"][0]["buttons"]
    assert [b["title"] for b in buttons] == [t.label for t in types]
    # A button's payload must pick its own letter again.
    assert [registry.kind_in(b["payload"], kb) for b in buttons] == [t.kind for t in types]
    assert f"1 到 {len(types)}" in domain["responses"]["utter_explain_letter_kind"][0]["text"]


def test_the_hand_written_letters_domain_does_not_repeat_the_generated_menu():
    data = yaml.safe_load((ROOT / "domain" / "letters.yml").read_text(encoding="utf-8"))
    assert "letter_kind" not in (data.get("slots") or {})
    generated = {"utter_ask_letter_kind", "utter_explain_letter_kind"}
    assert not generated & set(data.get("responses") or {})


def test_the_letter_form_lists_every_slot_a_letter_may_need():
    domain = project_domain()
    listed = domain["forms"]["letter_form"]["required_slots"]
    for slot, _ in registry.FORM_SLOTS:
        assert slot in domain["slots"], f"slot {slot} not declared in domain/"
        assert slot in listed, f"letter_form does not list {slot}"


def test_the_web_client_keeps_no_list_of_letter_types(kb):
    script = (ROOT / "web" / "chat.js").read_text(encoding="utf-8")
    assert "LETTER_KINDS" not in script
    for letter_type in registry.letter_types(kb):
        assert letter_type.kind not in script, f"web/chat.js names {letter_type.kind}"
        assert letter_type.label not in script, f"web/chat.js names {letter_type.label}"


def _responses_used(source: str) -> set[str]:
    return set(re.findall(r"\"(utter_[a-z0-9_]+)\"", source))


def test_the_letters_actions_words_are_domain_responses():
    """Every response the letter actions send exists in the domain."""
    responses = project_domain()["responses"]
    source = (ROOT / "actions" / "letters.py").read_text(encoding="utf-8")
    missing = _responses_used(source) - set(responses)
    assert not missing, f"actions/letters.py uses responses the domain lacks: {missing}"


def _string_constants(path: Path) -> list[str]:
    """String literals of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_phone_number_or_law_is_written_in_the_letters_code():
    """Hotlines, articles and laws come from the knowledge file (point 5)."""
    files = [ROOT / "actions" / "letters.py", *sorted((ROOT / "letters").glob("*.py"))]
    for path in files:
        for text in _string_constants(path):
            assert not re.search(r"\d{3,}", text), f"{path.name}: a number in code: {text!r}"
            assert "《" not in text and not re.search(r"第\s*\d+\s*条", text), f"{path.name}: {text!r}"
