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
        texts = [fact["text"], *(fact.get("variants") or {}).values()]
        named = {article for text in texts for article in knowledge.ARTICLE_LIKE.findall(text)}
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


def test_accessors_replace_raw_sections(kb):
    assert kb.is_lender("webank") and kb.is_lender("unknown") and not kb.is_lender("nope") and not kb.is_lender(None)
    assert kb.lender("ant_consumer_finance").intro_facts == ("alipay_real_lender", "alipay_bank_funded")
    assert kb.default_liability(third_party=True) and kb.default_liability(third_party=False)
    assert {"log_words", "question", "resume"} <= set(kb.intent_rules)
    assert kb.wording("generic_lender", kind="商业银行", regulator="X").startswith("商业银行归X监管")


def test_a_fact_variant_says_the_same_thing(kb):
    plain, also = kb.fact("do_not_promise"), kb.fact("do_not_promise", variant="also")
    assert plain.startswith("请先") and also.startswith("也请") and plain[2:] == also[2:]


def test_one_helper_sets_a_rule_chosen_intent():
    from rasa.shared.nlu.training_data.message import Message

    from nlu.components import set_intent

    message = Message(data={"text": "接着写"})
    ranking = [{"name": "greet", "confidence": 0.6}, {"name": "resume", "confidence": 0.3}]
    set_intent(message, {"name": "resume", "confidence": 0.6}, ranking)
    assert message.get("intent") == {"name": "resume", "confidence": 0.6}
    assert [r["name"] for r in message.get("intent_ranking")] == ["resume", "greet"]


def test_where_a_complaint_went_is_read_from_the_knowledge_file(kb):
    assert kb.submission_channel("已经打12378投诉了") == ("12378", "regulator_complaint")
    assert kb.submission_channel("去派出所报了案") == ("公安机关", "police_statement")
    assert kb.submission_channel("投诉过了") == ("", None)
    assert "12378" in kb.fact("unanswered_complaint")
