"""Replies built from the knowledge file, as lists of short bubbles.

Pure functions: given slot values, return the texts (and options) to send.
Each bubble stays within WeChat-friendly length (~300 characters).
"""

from __future__ import annotations

import json
import re
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
    "ex_spouse",
    "partner",
    "other",
}


MAX_BUBBLE = 300  # characters: about one phone screen


@dataclass
class Reply:
    bubbles: list[str]
    buttons: list[dict[str, str]] = field(default_factory=list)


def option(title: str, payload: str) -> dict[str, str]:
    return {"title": title, "payload": payload}


def faq_payload(key: str) -> str:
    """A button that asks FAQ ``key`` (answered by action_answer_faq)."""
    return "/faq" + json.dumps({"faq_topic": key}, separators=(",", ":"))


FAQ_FAMILY_LIABILITY = faq_payload("family_liability")
FAQ_WHAT_TO_SAY = faq_payload("what_to_say")


MENU = [
    option("可以去哪里投诉", "/ask_where_complain"),
    option("接到电话怎么说", FAQ_WHAT_TO_SAY),
    option("家人要替他还钱吗", FAQ_FAMILY_LIABILITY),
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
    """Does the user have to pay? The role's own facts (knowledge ``relations``)."""
    kb = knowledge.load()
    facts = (kb.relations.get(role or "") or {}).get("liability")
    if not facts:
        facts = kb.default_liability(third_party=role in THIRD_PARTY_ROLES)
    return Reply(
        kb.fact_texts(facts),
        [
            option("可以去哪里投诉", "/ask_where_complain"),
            option("接到电话怎么说", FAQ_WHAT_TO_SAY),
        ],
    )


# A message naming a lender and asking who it is or where to complain about it
# ("借呗到底是谁放的款", "微粒贷归谁管") is answered with that lender's route,
# whatever FAQ the classifier guessed.
_LENDER_QUESTION = re.compile(r"谁|哪家|哪个部门|哪里|哪儿|投诉|举报|归.{0,6}管|监管|是不是银行|是银行|正规|网贷吗|怎么投")


def asks_about_lender(text: str) -> bool:
    return _LENDER_QUESTION.search(text or "") is not None


# "还没还清" is not "已经还清": a negated answer must not get the repaid answer.
_NOT_REPAID = re.compile(r"(没|还没|未|没有|并没有|还未)(有)?(全部|完全)?(还清|还完|结清|还上)")


_REPAID = re.compile(r"还清|结清|还完|全部还上|都还上")


def says_repaid(text: str) -> bool:
    """"上个月已经全部还清了" says repaid; "还没还清" does not."""
    return bool(_REPAID.search(text or "")) and not _NOT_REPAID.search(text or "")


def faq_for_message(key: str | None, text: str) -> str | None:
    """The FAQ to answer, after reading negation the classifier may miss."""
    if key == "already_repaid" and _NOT_REPAID.search(text or ""):
        return "cant_repay"
    return key


# Facts that speak of "the family" as people with no duty: wrong for a borrower,
# spouse, guarantor or heir, who get their own rule instead (§11.4).
FAMILY_FACTS = {"family_not_sued", "family_no_duty"}
OWN_RULE_ROLES = {"borrower", "spouse", "guarantor", "heir"}


def caveat_for(fact_key: str, role: str | None) -> str:
    """A caveat's text for who the user is: a family fact becomes the rule
    for a borrower, spouse, guarantor or heir."""
    if fact_key in FAMILY_FACTS and role in OWN_RULE_ROLES:
        return family_liability(role).bubbles[0]
    return knowledge.load().fact(fact_key)


def situation_plan(role: str | None, lender_key: str | None, repaid: bool) -> Reply:
    """"What do I do now?" for what the user has told: the repaid steps when
    the debt is paid off, then who the lender is and where to complain."""
    kb = knowledge.load()
    bubbles = [kb.fact("already_repaid")] if repaid else [kb.fact("evidence_first")]
    if lender_key and lender_key != "unknown":
        bubbles += where_to_complain(lender_key).bubbles[:2]
    else:
        bubbles.append(next_steps(None))
    return Reply(bubbles, list(MENU))


def faq_answer(key: str, role: str | None, lender_key: str | None = None, repaid: bool = False) -> Reply:
    """The answer to FAQ ``key`` for who the user is.

    Role-aware questions get the role's own facts. Any other answer is sent
    with its caveats; an answer written for someone only being contacted is
    followed, for a borrower, spouse, guarantor or heir, by their own rule.
    """
    kb = knowledge.load()
    if key == "family_liability":
        return family_liability(role)
    if key == "what_to_say":
        return what_to_say(role)
    if key == "what_now":
        return situation_plan(role, lender_key, repaid)
    if key == "find_lender":
        return where_to_complain(None)
    bubbles = [kb.faq_answer(key)] + [caveat_for(c, role) for c in kb.faq_caveats(key)]
    if key in kb.third_party_faqs and role in OWN_RULE_ROLES:
        bubbles.append(f"上面说的是只被联系到的亲友。您是{role_phrase(role)}，情况不同：" + family_liability(role).bubbles[0])
    elif key in kb.third_party_faqs and role is None and "担保" not in "".join(bubbles):
        bubbles.append(kb.fact("exceptions_short"))  # who the user is is unknown: the exceptions too
    return Reply(list(dict.fromkeys(bubbles)))


def what_to_say(role: str | None) -> Reply:
    """What to say when the collector calls: a script for who the user is.

    A third party refuses the debt; a borrower, a spouse, a guarantor and an
    heir may owe something, so they must not be told to say they owe nothing.
    """
    kb = knowledge.load()
    script = (kb.relations.get(role or "") or {}).get("script") or kb.faq["what_to_say"]
    return Reply(
        kb.fact_texts(script),
        [
            option("可以去哪里投诉", "/ask_where_complain"),
            option("怎么留证据", faq_payload("keep_evidence")),
        ],
    )


def lender_intro(lender_key: str | None, with_steps: bool = True) -> list[str]:
    """Who really lent the money, when we know it; ``with_steps`` adds how to
    find the real lender where the brand alone does not say."""
    kb = knowledge.load()
    lender = kb.lender(lender_key) if lender_key and lender_key != "unknown" else None
    if lender and lender.intro_facts:  # 花呗/借呗: who lends, and the bank-funded exception
        return ["".join(kb.fact_texts(lender.intro_facts))]
    steps = ""
    if with_steps:
        steps = "可以这样确认：\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(kb.find_lender_steps, 1))
    if lender is None:
        return [kb.wording("find_real_lender") + steps]
    kind = kb.lender_type(lender.type)["label"]
    if lender.intro:  # a platform: the real lender is on the contract
        return [lender.intro + steps]
    if lender.key.startswith("generic_"):
        return [kb.wording("generic_lender", kind=kind, regulator=lender.regulator)]
    return [kb.wording("named_lender", legal_name=lender.legal_name, kind=kind, regulator=lender.regulator)]


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
            option("家人要替他还钱吗", FAQ_FAMILY_LIABILITY),
            option("接到电话怎么说", FAQ_WHAT_TO_SAY),
        ]
    return Reply(bubbles, buttons)


def reported_behaviours(role: str | None, behaviours: list[str], relations: list[str]) -> list[str]:
    """Behaviours to assess: the ones named, plus what the situation implies.

    A relative, friend or colleague who is being called is by definition a
    third party being contacted; a borrower who mentions family or colleagues
    in the report is telling us the same about them.
    """
    found = list(dict.fromkeys(behaviours or []))
    third_party = role in THIRD_PARTY_ROLES or (
        role == "borrower" and any(r not in ("borrower", "guarantor") for r in relations or [])
    )
    if third_party and "third_party_contact" not in found:
        found.append("third_party_contact")
    return found


def assessment(behaviours: list[str], lender_key: str | None = None) -> list[str]:
    """Which reported behaviours break which rule, as bubbles of a few lines."""
    kb = knowledge.load()
    lines = [
        f"· {kb.behaviours[b]['label']}：{kb.breaks(b, rulebook='催收规则')}"
        for b in dict.fromkeys(behaviours or [])
        if b in kb.behaviours
    ]
    if lines:
        lines.append(f"（这里的催收规则指：{kb.rulebook(lender_key)}。）")
    bubbles: list[str] = []
    current = "您说的这些做法，对照规则看：" if lines else ""
    for line in lines:
        if len(current) + len(line) + 1 > MAX_BUBBLE:
            bubbles.append(current)
            current = line
        else:
            current = f"{current}\n{line}"
    if lines:
        bubbles.append(current)
    return bubbles


def first_answer(behaviours: list[str], lender_key: str | None) -> Reply:
    """The answer to a report that already says what happened: what is wrong
    with each behaviour and the rule, then where to complain (for the lender
    when it was named). Sent before any question."""
    kb = knowledge.load()
    bubbles = assessment(behaviours, lender_key)
    if lender_key and lender_key != "unknown":
        steps = kb.complaint_steps(lender_key)[:2]
        bubbles.append(
            lender_intro(lender_key, with_steps=False)[0]
            + "\n去哪里投诉：\n"
            + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
        )
    else:
        bubbles.append(kb.fact("complain_short"))
    return Reply(bubbles)


def next_steps(lender_key: str | None) -> str:
    """What to do, in order, for this lender type."""
    kb = knowledge.load()
    steps = [kb.fact("evidence_first")] + kb.complaint_steps(lender_key)
    return "下一步，按顺序来：\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


def triage_summary(
    role: str | None,
    lender_key: str | None,
    behaviours: list[str],
    repaid: str | None = None,
    answered: list[str] | None = None,
) -> Reply:
    """What the user told us, which rules it breaks (except those ``answered``
    already, at the start), and what to do next."""
    kb = knowledge.load()
    bubbles = assessment([b for b in behaviours if b not in (answered or [])], lender_key)
    if repaid == "repaid":
        bubbles.append(kb.fact("already_repaid"))
    elif repaid in ("not_repaid", "partly") and role == "borrower":
        bubbles.append(kb.fact("borrower_negotiate"))
    if role in THIRD_PARTY_ROLES:
        bubbles.append(kb.fact("family_no_duty") + kb.fact("do_not_promise", variant="also"))
    elif role:
        bubbles.extend(family_liability(role).bubbles[:1])
    bubbles.extend(lender_intro(lender_key)[:1])
    bubbles.append(next_steps(lender_key))
    who = role_phrase(role)
    intro = f"明白了，您是{who}。" if who else ""
    bubbles.append(intro + "接下来我可以帮您：")
    return Reply(bubbles, list(MENU))
