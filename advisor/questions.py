"""Which question a message asks, read by rules before the classifier's guess.

Two kinds of question must not depend on a retrain:
- "do I have to pay?" (要替他还吗, 有义务吗, 让我垫上, 分担一部分): answered
  for who the user is (``advisor.replies.family_liability``);
- the topics in the knowledge file's ``question_topics`` (court papers, a
  scam in a court's name, proving how often they call, deductions from a
  pension...): each lists the FAQs that answer it, and the first is used
  when the classifier picked another.
"""

from __future__ import annotations

import functools
import re

import knowledge
from nlu.text import normalize

# A role with its own answer to "do I have to pay?": said outright, it is
# answered even when the message asks nothing ("离婚两年了，前夫借的找到我这").
SITUATION_ROLES = {"ex_spouse", "partner", "guarantor", "heir", "emergency_contact"}
FAMILY_LIABILITY = "family_liability"


@functools.lru_cache(maxsize=2)
def _compiled(key: int) -> tuple[re.Pattern, re.Pattern, dict[str, tuple[re.Pattern, list[str], bool]]]:
    kb = knowledge.load()
    data = kb.liability_questions
    liability = re.compile("|".join(f"(?:{p})" for p in data["regex"]))
    question = re.compile(data["question"])
    topics = {
        name: (re.compile("|".join(f"(?:{p})" for p in topic["regex"])), list(topic["faqs"]), bool(topic.get("after_liability")))
        for name, topic in kb.question_topics.items()
    }
    return liability, question, topics


def asks_liability(text: str | None) -> bool:
    """Does the message ask whether the user must pay (or pay part, or advance)?"""
    if not text or text.startswith("/"):
        return False
    liability, question, _ = _compiled(id(knowledge.load()))
    clean = normalize(text)
    return liability.search(clean) is not None and question.search(clean) is not None


def topic_faq(text: str | None, model_key: str | None = None, after_liability: bool | None = None) -> str | None:
    """The FAQ a rule-read topic calls for: the classifier's pick when it is
    one of the topic's answers, else the topic's first; None without a topic.
    ``after_liability`` picks only the topics that come before (False) or
    after (True) the do-I-have-to-pay question; None, any."""
    if not text or text.startswith("/"):
        return None
    clean = normalize(text)
    for pattern, faqs, late in _compiled(id(knowledge.load()))[2].values():
        if after_liability is not None and late != after_liability:
            continue
        if pattern.search(clean):
            return model_key if model_key in faqs else faqs[0]
    return None


def faq_for(
    text: str | None,
    model_key: str | None,
    role: str | None,
    relations: tuple[str, ...] = (),
    role_stated: bool = False,
) -> str | None:
    """The FAQ to answer: a rule-read topic, then "do I have to pay?" for who
    the user is, then the topics that yield to it (court papers named as a
    threat), then the classifier's pick. ``relations`` are the relation words
    in the message (a spouse named by someone whose role is unknown);
    ``role_stated``: the message itself says who the user is."""
    topic = topic_faq(text, model_key, after_liability=False)
    if topic:
        return topic
    # "我给同学当的担保，到期一年了催收突然找上门": no question asked, so
    # the guarantor's (ex-spouse's, heir's...) own situation is the answer.
    question = _compiled(id(knowledge.load()))[1]
    if role_stated and role in SITUATION_ROLES and not question.search(normalize(text or "")):
        return FAMILY_LIABILITY
    data = knowledge.load().liability_questions
    situations, liability_faqs = set(data["situations"]), set(data["faqs"])
    # 女朋友 or 担保人 whose message the classifier read as another role's
    # liability question: their own answer (a widow's 配偶去世 stays).
    if role in SITUATION_ROLES and model_key in liability_faqs and model_key != "heir_spouse_died":
        return FAMILY_LIABILITY
    if asks_liability(text) and model_key not in situations:
        if not role and "spouse" in relations:
            return "spouse_debt"
        # A known role has its own answer; an unknown one keeps a liability FAQ
        # the classifier found (紧急联系人, 担保...).
        return FAMILY_LIABILITY if role or model_key not in liability_faqs else model_key
    return topic_faq(text, model_key, after_liability=True) or model_key
