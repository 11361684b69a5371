"""The corrections of the legal review (issue #14, fact sheet §11): each test
would have caught one wrong statement, for every role it concerns."""

from __future__ import annotations

import re

import pytest

import knowledge
from advisor import replies

KB = knowledge.load()
ROLES = ["borrower", "parent", "spouse", "guarantor", "heir", "friend", None]
OWES_NOTHING = re.compile(r"没有(替他还钱的|还款)义务|没有依据起诉(您|你)")


def joined(reply) -> str:
    return "\n".join(reply.bubbles)


def faq(key: str) -> str:
    return KB.faq_answer(key)


# -- §11.1–11.3 court papers, lawyers' letters, courts that call ---------------


def test_court_papers_are_verified_and_answered_if_real():
    text = faq("threat_to_sue")
    assert "12368" in text and "应诉" in text and "缺席判决" in text
    assert "第279条" not in text


def test_court_papers_are_not_impersonation():
    for word in ("传票", "立案通知", "律师函", "检察院"):
        assert word not in KB.behaviours["impersonation"]["patterns"]
    assert "律师函不属于" in KB.breaks("impersonation")


def test_a_court_that_calls_is_checked_with_the_court_not_110():
    text = faq("fake_police")
    court = text[text.index("自称法院"):]
    assert "12368" in court and "个人账户" in court and "110" not in court


# -- §11.4–11.7 every sentence about "family" depends on the role ---------------


@pytest.mark.parametrize("role", ROLES)
def test_liability_answer_for_each_role(role):
    text = joined(replies.family_liability(role))
    if role in ("guarantor", "borrower", "spouse", "heir"):
        assert not OWES_NOTHING.search(text), text
    expected = {"borrower": "还款义务在您", "spouse": "第1064条", "guarantor": "第681条", "heir": "第1161条",
                "parent": "第465条", "friend": "第465条", None: "第681条"}[role]
    assert expected in text


@pytest.mark.parametrize("role", ROLES)
def test_the_family_caveat_after_a_faq_is_for_the_role(role):
    text = replies.caveat_for("family_not_sued", role)
    if role in ("guarantor", "borrower", "spouse", "heir"):
        assert "没有依据起诉" not in text
    else:
        assert "第681条" in text, "the general rule comes with its exceptions"


def test_guarantor_details():
    text = joined(replies.family_liability("guarantor"))
    assert "第686条" in text and "第692条" in text and "6 个月" in text
    assert "不能要求对方完全不联系" in text


def test_heir_can_renounce_in_writing():
    assert "第1124条" in joined(replies.family_liability("heir"))


@pytest.mark.parametrize("role", ["guarantor", "heir", "spouse", "borrower"])
def test_no_one_who_may_owe_is_told_to_say_they_owe_nothing(role):
    assert "也不会替他还" not in joined(replies.what_to_say(role))


# -- §11.8–11.10 the rules by person called, third parties, which rulebook ------


def test_call_limits_count_per_person():
    text = faq("call_limits")
    assert "按被催收的人算" in text and "3 次" in text
    assert "同一个号码一天" not in text


def test_a_micro_loan_is_not_held_to_the_bank_association():
    text = "\n".join(replies.assessment(list(KB.behaviours), "generic_microloan"))
    assert "银行业协会" not in text and "GB/T 45251-2025" in text


def test_a_bank_is_held_to_the_bank_association():
    assert "银行业协会" in "\n".join(replies.assessment(["night_calls"], "generic_bank"))


def test_third_parties_may_be_asked_to_pass_a_message():
    text = KB.breaks("third_party_contact")
    assert "转告" in text and "透露欠款" in text and "拒绝后" in text


# -- §11.11–11.13 platforms, 12321, 12348 ---------------------------------------


@pytest.mark.parametrize("lender", ["jd_microloan", "meituan_microloan", "duxiaoman_microloan", "douyin_microloan"])
def test_platform_loans_are_routed_by_the_real_lender(lender):
    text = joined(replies.where_to_complain(lender))
    assert "12378" in text and "地方金融管理局" in text and ("合同" in text or "协议" in text)


def test_12321_is_not_a_number_to_dial_for_reports():
    texts = [f["text"] for f in KB.facts.values()] + [s for steps in KB.data["complaint_routes"].values()
                                                     for s in (steps if isinstance(steps, list) else [steps])]
    assert not [t for t in texts if re.search(r"(拨打|打)\s*12321", t)]


def test_12348_is_advice_not_a_lawyer():
    texts = [f["text"] for f in KB.facts.values()]
    assert not [t for t in texts if re.search(r"12348[^。]{0,6}(问问律师|找律师|派律师)", t)]


# -- §8 myths ------------------------------------------------------------------


def test_the_official_blacklist_exists():
    text = faq("credit_and_family")
    assert "没有官方的" not in text and "失信被执行人" in text


def test_high_consumption_limits_include_private_schools():
    assert "私立学校" in KB.fact("children_myth")


# -- the line-by-line audit of 2026-12-04 ---------------------------------------


def test_a_guarantor_is_not_promised_freedom_when_the_period_ends():
    text = KB.fact("guarantor_rule")
    assert "就不再承担" not in text and "连带责任保证" in text and "第692条" in text


@pytest.mark.parametrize("brand", ["分付", "拿去花", "网贷"])
def test_app_credit_lines_are_routed_by_the_real_lender(brand):
    key = KB.resolve_lender(brand)
    assert KB.lender(key).type == "platform"
    assert "银行" in joined(replies.where_to_complain(key))


def test_the_exceptions_name_the_heir():
    assert "第1161条" in KB.fact("exceptions_short")


def test_family_credit_is_not_promised_untouched():
    text = KB.fact("credit_and_family")
    assert "家人的征信不会因此受影响" not in text and "担保人" in text


def test_the_no_contact_order_is_for_stalking_and_pestering():
    assert "滋扰、纠缠、跟踪" in KB.fact("police_no_contact") and "负责人批准" in KB.fact("police_no_contact")


def test_a_lawyers_letter_is_not_impersonation_in_the_log():
    assert "律师" not in KB.data["incident_rules"]["impersonation"]["label"]
