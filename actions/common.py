"""Small helpers shared by the actions."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import knowledge
from advisor.replies import Reply
from advisor.roles import ROLE_UNKNOWN, STATED_ROLES, infer_role


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    """Send each bubble as its own message; options go with the last one."""
    for index, bubble in enumerate(reply.bubbles):
        last = index == len(reply.bubbles) - 1
        if last and reply.buttons:
            dispatcher.utter_message(text=bubble, buttons=reply.buttons)
        else:
            dispatcher.utter_message(text=bubble)


def say(domain: dict[str, Any], response: str, **values: Any) -> str:
    """The text of a domain response with ``values`` filled in, for a reply
    composed in Python (bubbles packed to a size) but worded in the domain."""
    text = domain["responses"][response][0]["text"]
    return re.sub(r"{(\w+)}", lambda match: str(values[match[1]]), text)


def latest_entities(tracker: Tracker, entity: str) -> list[Any]:
    return [e.get("value") for e in tracker.latest_message.get("entities", []) if e.get("entity") == entity]


def conversation_entities(tracker: Tracker, entity: str) -> list[Any]:
    """All values of ``entity`` the user mentioned in this conversation, in order."""
    values: list[Any] = []
    for event in tracker.events:
        if event.get("event") != "user":
            continue
        for ent in (event.get("parse_data") or {}).get("entities", []) or []:
            if ent.get("entity") == entity and ent.get("value") not in values:
                values.append(ent.get("value"))
    return values


def known_role(tracker: Tracker) -> str | None:
    """Who the user is to the borrower as kept in the slot; None when not
    known (or the question was skipped). Where the latest message may say
    who the user is, use ``role_from``."""
    role = tracker.get_slot("user_role")
    return None if role == ROLE_UNKNOWN else role


def role_stated(tracker: Tracker, answering: bool = False) -> str | None:
    """The role the latest message says the user has, if any (advisor.roles);
    ``answering``: the message answers "who are you?", so a bare "妈妈" counts."""
    return infer_role(
        latest_text(tracker), latest_entities(tracker, "relation"), answering_role_question=answering
    )


def role_from(
    tracker: Tracker, answering: bool = False, overrides: bool = False
) -> tuple[str | None, list[dict[str, Any]]]:
    """Who the user is, and the events that keep it: the slot, unless the
    latest message says otherwise. A role said outright (a guarantor, an heir)
    corrects an earlier one; with ``overrides`` (a bare answer outside the
    form: "我是他同事") any role the message states does."""
    known = known_role(tracker)
    stated = role_stated(tracker, answering)
    if stated and stated != known and (overrides or not known or stated in STATED_ROLES):
        return stated, [SlotSet("user_role", stated)]
    return known, []


def latest_text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def intent_name(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


_NEGATION_BEFORE = ("不是", "不对", "并非", "没在", "没有在")


GENERIC_PREFIX = "generic_"  # a kind of lender (generic_bank), not a named one


def lenders_named(tracker: Tracker) -> list[str]:
    """Lenders the latest message names, in order, without the ones it
    denies: "不是借呗，是微粒贷" names only 微粒贷."""
    kb = knowledge.load()
    text = latest_text(tracker)
    named = []
    for entity in tracker.latest_message.get("entities", []) or []:
        if entity.get("entity") != "lender" or not kb.is_lender(entity.get("value")):
            continue
        start = entity.get("start")
        before = text[max(0, start - 3) : start] if isinstance(start, int) else ""
        if not any(word in before for word in _NEGATION_BEFORE):
            named.append(entity["value"])
    # "度小满是银行的吗": a named app wins over a kind of lender in the same message.
    specific = [key for key in named if not key.startswith(GENERIC_PREFIX)]
    return list(dict.fromkeys(specific or named))


def lender_from(tracker: Tracker) -> tuple[str | None, list[dict[str, Any]]]:
    """The user's lender and the events that keep it: the slot, unless the
    latest message names another one (a correction wins: the last named)."""
    slot = tracker.get_slot("lender")
    named = lenders_named(tracker)
    if named and named[-1] != slot:
        return named[-1], [SlotSet("lender", named[-1])]
    return slot, []
