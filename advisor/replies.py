"""Replies built from the knowledge file, as lists of short bubbles.

Pure functions: given slot values, return the texts (and options) to send.
Each bubble stays within WeChat-friendly length (~300 characters).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import knowledge

THIRD_PARTY_ROLES = {
    "parent",
    "child",
    "sibling",
    "relative",
    "emergency_contact",
    "friend",
    "colleague",
    "other",
}


@dataclass
class Reply:
    bubbles: list[str]
    buttons: list[dict[str, str]] = field(default_factory=list)


def option(title: str, payload: str) -> dict[str, str]:
    return {"title": title, "payload": payload}


MENU = [
    option("可以去哪里投诉", "/ask_where_complain"),
    option("接到电话怎么说", "/ask_what_to_say"),
    option("家人要替他还钱吗", "/ask_family_liability"),
]


def role_phrase(role: str | None) -> str:
    """How to say who the user is: "借款人的父母", "借款人本人", "担保人"."""
    kb = knowledge.load()
    if not role or role not in kb.relations:
        return ""
    label = kb.relations[role]["label"]
    if role in THIRD_PARTY_ROLES and not label.startswith("借款人"):
        return "借款人的" + label
    return label


def family_liability(role: str | None) -> Reply:
    """Does the user have to pay? Tailored to who they are."""
    kb = knowledge.load()
    if role == "borrower":
        facts = ["borrower_own_debt", "borrower_negotiate"]
    elif role == "spouse":
        facts = ["spouse_rule", "spouse_who_decides", "do_not_promise"]
    elif role == "guarantor":
        facts = ["guarantor_rule", "guarantor_still_protected"]
    elif role == "heir":
        facts = ["heir_rule", "do_not_promise"]
    elif role in THIRD_PARTY_ROLES:
        facts = ["family_no_duty", "do_not_promise", "privacy_rule"]
    else:
        facts = ["family_no_duty", "exceptions_short", "do_not_promise"]
    return Reply(
        kb.fact_texts(facts),
        [
            option("可以去哪里投诉", "/ask_where_complain"),
            option("接到电话怎么说", "/ask_what_to_say"),
        ],
    )


def lender_intro(lender_key: str | None) -> list[str]:
    """Who really lent the money, when we know it."""
    kb = knowledge.load()
    if lender_key == "ant_consumer_finance":
        return [kb.fact("alipay_real_lender") + kb.fact("alipay_bank_funded")]
    if not lender_key or lender_key == "unknown":
        steps = "\n".join(f"{i}. {s}" for i, s in enumerate(kb.find_lender_steps, 1))
        return ["投诉要找真正放款的机构，可以这样确认：\n" + steps]
    lender = kb.lender(lender_key)
    kind = kb.lender_type(lender.type)["label"]
    return [f"这笔借款的放款方是{lender.legal_name}（{kind}），归{lender.regulator}管。"]


def where_to_complain(lender_key: str | None) -> Reply:
    """The complaint ladder for this lender, in order."""
    kb = knowledge.load()
    steps = kb.complaint_steps(lender_key)
    ladder = "按这个顺序来：\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    bubbles = lender_intro(lender_key) + [ladder, kb.complaint_prepare]
    buttons = []
    if not lender_key or lender_key == "unknown":
        buttons = [
            option("花呗/借呗", '/inform{"lender":"ant_consumer_finance"}'),
            option("银行或信用卡", '/inform{"lender":"generic_bank"}'),
            option("小贷/其他网贷", '/inform{"lender":"generic_microloan"}'),
        ]
    else:
        buttons = [
            option("家人要替他还钱吗", "/ask_family_liability"),
            option("接到电话怎么说", "/ask_what_to_say"),
        ]
    return Reply(bubbles, buttons)


def triage_summary(role: str | None, lender_key: str | None, behaviours: list[str]) -> Reply:
    """What the user told us, what it means, and what to do next."""
    kb = knowledge.load()
    role_label = role_phrase(role)
    bubbles: list[str] = []
    seen = [kb.behaviours[b]["label"] for b in dict.fromkeys(behaviours or []) if b in kb.behaviours]
    if seen:
        bubbles.append("我记下了：" + "、".join(seen) + "。这些做法已经超出催收规则允许的范围。")
    if role in THIRD_PARTY_ROLES:
        bubbles.append(kb.fact("family_no_duty") + kb.fact("do_not_promise").replace("请先", "也请"))
    elif role:
        bubbles.extend(family_liability(role).bubbles[:1])
    if "night_calls" in (behaviours or []) or "frequent_calls" in (behaviours or []):
        bubbles.append(kb.fact("time_limits"))
    elif role in THIRD_PARTY_ROLES:
        bubbles.append(kb.fact("third_party_rule"))
    bubbles.extend(lender_intro(lender_key)[:1])
    intro = f"明白了，您是{role_label}。" if role_label else ""
    bubbles.append(intro + "接下来我可以帮您：")
    return Reply(bubbles, list(MENU))
