"""Every answer the bot gives is right for who is asking (§11.4–11.7).

For each FAQ, the triage summary and the phone script, and for each role
(borrower, parent, spouse, guarantor, heir, friend, unknown):
- someone who may owe (borrower, spouse, guarantor, heir) is never left with a
  "you owe nothing" sentence without their own rule in the same answer;
- when the role is unknown, a "the family owes nothing" sentence comes with
  its exceptions;
- a relative or friend is not given another role's rule as theirs.
"""

from __future__ import annotations

import re

import pytest

import knowledge
from advisor import replies

KB = knowledge.load()
ROLES = ["borrower", "parent", "spouse", "guarantor", "heir", "friend", None]
MAY_OWE = {"borrower", "spouse", "guarantor", "heir"}
# Sentences that tell the reader they owe nothing or are no party to the debt.
OWES_NOTHING = re.compile(
    r"没有(替他还钱的|还款|配合催收的)义务|(?<!超过的部分)(?<!超出部分)不用还|不需要拿自己的钱还"
    r"|不是借款合同的当事人|和这笔债无关|不会让您背上这笔债|没有依据起诉(您|你)"
)
EXCEPTIONS = re.compile(r"担保")
# Each role's own rule, as the answers must carry it.
OWN_RULE = {
    "borrower": "还款义务在您",
    "spouse": "第1064条",
    "guarantor": "第681条",
    "heir": "第1161条",
}
# FAQs whose question itself names the role ("我签了担保…", "借款人去世了…"):
# their answer is that role's rule, whoever asks.
ROLE_PREMISED = {"guarantor_debt", "heir_debt", "spouse_debt", "co_borrower", "heir_spouse_died", "wrong_number",
                 "employer_hr", "father_debt"}


def joined(reply: replies.Reply) -> str:
    return "\n".join(reply.bubbles)


ANSWERS = [(key, role) for key in sorted(KB.faq) for role in ROLES]


@pytest.mark.parametrize("key, role", ANSWERS, ids=[f"{k}-{r}" for k, r in ANSWERS])
def test_every_faq_is_right_for_the_role(key, role):
    text = joined(replies.faq_answer(key, role))
    if key in ROLE_PREMISED or not OWES_NOTHING.search(text):
        return
    if role in MAY_OWE:
        assert OWN_RULE[role] in text, f"a {role} reads '{OWES_NOTHING.search(text).group()}' without their own rule"
    elif role is None:
        assert EXCEPTIONS.search(text), f"'{OWES_NOTHING.search(text).group()}' without its exceptions"


@pytest.mark.parametrize("role", ["parent", "friend"])
@pytest.mark.parametrize("key", sorted(KB.third_party_faqs))
def test_a_relative_is_not_given_another_roles_rule(key, role):
    text = joined(replies.faq_answer(key, role))
    assert "情况不同" not in text
    assert "还款义务在您" not in text and "保证责任（《民法典》第681条），范围" not in text


@pytest.mark.parametrize("role", ROLES)
def test_the_triage_summary_is_right_for_the_role(role):
    text = joined(replies.triage_summary(role, "ant_consumer_finance", ["night_calls", "third_party_contact"]))
    if role in MAY_OWE:
        assert OWN_RULE[role] in text
        assert not re.search(r"没有(替他还钱的|还款)义务", text)
    elif role is None:
        assert not OWES_NOTHING.search(text) or EXCEPTIONS.search(text)
    else:
        assert "第465条" in text and "还款义务在您" not in text


@pytest.mark.parametrize("role", ROLES)
def test_the_phone_script_is_right_for_the_role(role):
    text = joined(replies.what_to_say(role))
    if role in MAY_OWE:
        assert "也不会替他还" not in text
        assert role != "borrower" or "我不是借款人" not in text
    else:
        assert "我不是借款人" in text


def test_the_guarantor_told_where_the_borrower_is_not_optional_is_not_told_he_is_no_party():
    text = joined(replies.faq_answer("refuse_whereabouts", "guarantor"))
    assert "第686条" in text and "情况不同" in text


def test_an_emergency_contact_who_also_guaranteed_is_not_told_he_owes_nothing():
    text = joined(replies.faq_answer("emergency_contact", "guarantor"))
    assert text.startswith("只是紧急联系人的话") and "第681条" in text


def test_the_police_no_contact_order_is_hedged():
    """§11.16 is 【B】: the order is mentioned, never promised."""
    text = joined(replies.faq_answer("police_no_contact", None))
    assert "不得接触" in text and "第五十条" in text
    assert any(h in text for h in KB.hedges) and "由公安机关" in text


def test_b_and_c_facts_are_hedged():
    """What users read of a 【B】 or 【C】 item is never stated as certain."""
    unhedged = [k for k, f in KB.facts.items() if f["confidence"] in ("B", "C")
                and not any(h in f["text"] for h in KB.hedges)]
    assert not unhedged
