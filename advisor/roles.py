"""Work out who the user is from what they typed.

A relation word alone is ambiguous: "我是他妈妈" makes the user a parent, but
"我儿子借了钱" also makes the user a parent (the borrower is the son), and
"催收打给我妈" says nothing certain about the user. This module reads the
phrasing around the relation word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import knowledge

# The role after the user twice didn't say who they are: not to be guessed at.
ROLE_UNKNOWN = "unknown"

_NOT_BORROWER = re.compile(r"不是(我|本人|借款人|我本人|我自己)(借的|欠的)?")

# The borrower is <relation> → the user is <inverse>.
INVERSE = {
    "child": "parent",
    "parent": "child",
    "spouse": "spouse",
    "sibling": "sibling",
    "friend": "friend",
    "colleague": "colleague",
    "relative": "relative",
    "ex_spouse": "ex_spouse",
    "partner": "partner",
}
# A spouse who says they are divorced is an ex-spouse (§11.5: debts after the
# divorce are in general not shared).
_DIVORCED = re.compile(r"离婚|离了婚|离异|已经离了")

_BORROWER_SELF = re.compile(
    r"(我本人|我自己|本人|借款人就是我|是我借的|(?<![背瞒替帮给用])我借的|我欠的|我自己借|(?<![背瞒替帮给用]着)(?<![背瞒替帮给用])我在.{0,8}借"
    r"|我逾期|我的(网贷|借款|欠款|贷款)|^(我)?(实在|真的)?还不(上|起))"
)
# "被同学填成了紧急联系人", "我同意当他的紧急联系人": the user is the emergency contact.
_EMERGENCY_CONTACT = re.compile(r"(填|写|留|当|做|作|是|成了|同意)[^，。？?]{0,6}紧急联系人")
# Roles people state outright, which correct an earlier guess ("等等，我其实
#签过担保"): a guarantor, or an heir of a borrower who died.
_GUARANTOR = re.compile(
    r"(?<!没)(?<!没有)(?<!不是)(?<!不)(签|当|做|作)(了|过)?[^，。？?]{0,8}(担保|保证人)|我(就)?是(他的|她的)?(担保人|保证人)"
)
_HEIR = re.compile(r"(去世|过世|病逝|走了以后|不在了|生前|遗产|继承|走了.{0,8}(留下|留了|欠的|欠了|啥也没))")
STATED_ROLES = ("guarantor", "heir")

_I_AM = re.compile(r"(我(就)?是|作为|身为)(他|她|借款人|欠款人)?(的)?(?P<word>[^，,。.!！?？\s]{1,6})")
# "催收说她是担保人，但她根本没签过": the collector's claim, denied, is not a role.
_CLAIMED_GUARANTOR = re.compile(r"(说|称|硬说|非说|咬定|说是)[^，。]{0,6}(担保人|保证人)|(没|没有|从没|从来没|根本没)(签|当|做)")
# "我儿子借了…", "我老公欠…", "我女儿在借呗上借…"
_MY_X_BORROWED = re.compile(
    r"我(的|家)?(?P<word>[^，,。.!！?？\s我]{1,4}?)(在.{0,10})?(借|欠|贷|逾期|用了|开了|套现)"
)


def infer_role(text: str | None, relation_values: Iterable[str] = (), answering_role_question: bool = False) -> str | None:
    """The user's role key (knowledge ``relations``), or None when unsure (see ``_infer_role``)."""
    role = _infer_role(text, relation_values, answering_role_question)
    if role == "spouse" and _DIVORCED.search(text or ""):
        return "ex_spouse"
    return role


def _infer_role(
    text: str | None,
    relation_values: Iterable[str] = (),
    answering_role_question: bool = False,
) -> str | None:
    """The user's role key (knowledge ``relations``), or None when unsure.

    ``relation_values`` are the relation entities found in the message.
    ``answering_role_question`` is True when the bot has just asked
    "您是借款人本人，还是他的家人/朋友/同事？", so a bare "妈妈" is an answer.
    """
    kb = knowledge.load()
    text = (text or "").strip()
    relation_values = [v for v in relation_values if v in kb.relations]
    if _NOT_BORROWER.search(text):
        relation_values = [v for v in relation_values if v != "borrower"]
        text = _NOT_BORROWER.sub("", text)

    if _CLAIMED_GUARANTOR.search(text):
        relation_values = [v for v in relation_values if v != "guarantor"]
    elif _GUARANTOR.search(text):
        return "guarantor"
    if _HEIR.search(text) and not _BORROWER_SELF.search(text):
        return "heir"
    if _EMERGENCY_CONTACT.search(text):
        return "emergency_contact"
    if _I_AM.search(text):
        word = _I_AM.search(text).group("word")
        key = kb.resolve_relation(word)
        if key:
            return key
    match = _MY_X_BORROWED.search(text)
    if match:
        key = kb.resolve_relation(match.group("word"))
        if key in INVERSE:
            return INVERSE[key]
    if _BORROWER_SELF.search(text):
        return "borrower"
    if answering_role_question:
        if relation_values:
            return relation_values[0]
        return kb.resolve_relation(text)
    # A message that only says who is being called ("打给我妈") is not enough.
    if len(set(relation_values)) == 1 and relation_values[0] in {
        "guarantor",
        "emergency_contact",
        "heir",
        "ex_spouse",
        "partner",
    }:
        return relation_values[0]
    return None
