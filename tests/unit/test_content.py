"""What the bot says is backed by the knowledge file.

Fails when any response (domain, generated or built by actions) reads out a
phone number the knowledge file does not allow, cites a law article it does
not hold, states a 【C】 fact without a hedge, or sends a bubble too long for
a phone screen.
"""

from pathlib import Path

import pytest
import yaml

import knowledge
from advisor import replies

ROOT = Path(__file__).resolve().parents[2]
MAX_BUBBLE = 300


def domain_texts():
    for path in sorted((ROOT / "domain").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, variations in (data.get("responses") or {}).items():
            for variation in variations:
                yield f"{path.name}:{name}", variation.get("text", "")


def action_texts(kb):
    roles = list(kb.relations) + [None]
    for role in roles:
        for text in replies.family_liability(role).bubbles:
            yield f"family_liability({role})", text
        for text in replies.what_to_say(role).bubbles:
            yield f"what_to_say({role})", text
    for lender in list(kb.data["lenders"]) + [None]:
        for text in replies.where_to_complain(lender).bubbles:
            yield f"where_to_complain({lender})", text
        for role in roles:
            reply = replies.triage_summary(role, lender, list(kb.behaviours), "repaid")
            for text in reply.bubbles:
                yield f"triage_summary({role},{lender})", text


def all_texts():
    kb = knowledge.load()
    yield from domain_texts()
    yield from action_texts(kb)
    for key, fact in kb.facts.items():
        yield f"fact:{key}", fact["text"]
        for variant, text in (fact.get("variants") or {}).items():
            yield f"fact:{key}:{variant}", text


TEXTS = list(all_texts())


@pytest.mark.parametrize("where, text", TEXTS, ids=[w for w, _ in TEXTS])
def test_numbers_and_articles_come_from_knowledge(where, text):
    kb = knowledge.load()
    numbers = knowledge.phone_numbers_in(text)
    assert numbers <= kb.sayable_numbers(), f"{where} reads out {numbers - kb.sayable_numbers()}"
    articles = set(knowledge.ARTICLE_LIKE.findall(text))
    assert articles <= kb.cited_articles(), f"{where} cites {articles - kb.cited_articles()}"


@pytest.mark.parametrize("where, text", TEXTS, ids=[w for w, _ in TEXTS])
def test_bubbles_fit_a_phone_screen(where, text):
    assert len(text) <= MAX_BUBBLE, f"{where} is {len(text)} characters"


def test_c_facts_are_hedged():
    kb = knowledge.load()
    for key, fact in kb.facts.items():
        if fact["confidence"] == "C":
            for text in [fact["text"], *(fact.get("variants") or {}).values()]:
                assert any(h in text for h in kb.hedges), f"【C】 fact {key} is stated as certain"


def test_c_channels_are_never_read_out():
    kb = knowledge.load()
    for number, channel in kb.channels.items():
        if channel["confidence"] == "C":
            assert not channel.get("say_number"), number


def test_content_check_catches_an_unknown_number():
    """The checks above can fail: an invented hotline is caught."""
    kb = knowledge.load()
    numbers = knowledge.phone_numbers_in("请拨打 400-123-4567 或 12399 投诉，依据第1064条，22:00 后")
    assert numbers == {"4001234567", "12399"}
    assert not numbers <= kb.sayable_numbers()
