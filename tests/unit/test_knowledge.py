"""The knowledge file is consistent: every citation, number and route resolves."""

import re

import pytest

import knowledge


def test_every_fact_cites_known_laws_and_rules(kb):
    for key, fact in kb.facts.items():
        for law in fact.get("cites", []):
            assert law in kb.laws, f"fact {key} cites unknown law {law}"
        for rule in fact.get("rules", []):
            assert rule in kb.data["rules"], f"fact {key} cites unknown rule {rule}"
        assert fact["confidence"] in knowledge.CONFIDENCE_LEVELS


def test_article_in_text_matches_its_citation(kb):
    """A fact that names 第N条 must cite that article."""
    for key, fact in kb.facts.items():
        named = set(knowledge.ARTICLE_LIKE.findall(fact["text"]))
        cited = {kb.laws[c]["article"] for c in fact.get("cites", [])}
        assert named <= cited, f"fact {key} names {named - cited} without citing it"


def test_faq_answers_use_existing_facts(kb):
    for key, facts in kb.faq.items():
        assert facts, key
        for fact in facts:
            assert fact in kb.facts, f"faq {key} uses unknown fact {fact}"


def test_faq_caveats_follow_existing_answers(kb):
    for key, facts in kb.data.get("faq_caveats", {}).items():
        assert key in kb.faq, key
        assert all(fact in kb.facts for fact in facts), key


def test_lenders_are_complete(kb):
    types = kb.data["lender_types"]
    for key, lender in kb.data["lenders"].items():
        assert lender["type"] in types, key
        hotline = lender.get("hotline")
        if hotline:
            assert hotline in kb.sayable_numbers(), f"{key}: hotline {hotline} may not be read out"


@pytest.mark.parametrize(
    "mention, expected",
    [
        ("借呗", "ant_consumer_finance"),
        ("我欠了支付宝借呗", "ant_consumer_finance"),
        ("支付宝信用贷", "alipay_bank_funded"),
        ("招商银行信用卡", "cmb_credit_card"),
        ("微粒贷", "webank"),
        ("我在分期乐借的", "loan_platform"),
        ("360借条", "loan_platform"),
        ("一个小贷公司", "generic_microloan"),
        ("不清楚", "unknown"),
        ("今天天气不错", None),
    ],
)
def test_resolve_lender(kb, mention, expected):
    assert kb.resolve_lender(mention) == expected


@pytest.mark.parametrize("type_key", ["consumer_finance", "bank", "credit_card", "microloan", "platform", "unknown"])
def test_complaint_ladder_exists_for_every_lender_type(kb, type_key):
    lender = next(k for k, v in kb.data["lenders"].items() if v["type"] == type_key)
    steps = kb.complaint_steps(lender)
    assert len(steps) >= 3
    assert any("110" in s for s in steps)


def test_alipay_ladder_starts_with_95188_then_12378(kb):
    steps = kb.complaint_steps("ant_consumer_finance")
    assert "95188" in steps[0]
    assert "12378" in steps[1]


def test_microloan_ladder_goes_to_local_regulator_not_12378(kb):
    steps = kb.complaint_steps("generic_microloan")
    assert any("地方金融管理局" in s for s in steps)
    assert not any("12378" in s for s in steps)


def test_knowledge_file_is_reloaded_when_changed(tmp_path):
    source = knowledge.KNOWLEDGE_FILE.read_text(encoding="utf-8")
    copy = tmp_path / "kb.yml"
    copy.write_text(source, encoding="utf-8")
    assert knowledge.load(copy).meta["bot_name"] == "安心"
    copy.write_text(re.sub(r"bot_name: 安心", "bot_name: 放心", source), encoding="utf-8")
    import os

    os.utime(copy, (1, 1))
    assert knowledge.load(copy).meta["bot_name"] == "放心"
