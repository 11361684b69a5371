"""Answers that depend on what the user reported, who they are and which lender."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import knowledge
from actions.common import (
    conversation_entities,
    known_role,
    latest_entities,
    latest_text,
    lender_from,
    lenders_named,
    role_from,
    role_stated,
    send,
)
from actions.faq import asked_faq, question_key, said_repaid
from advisor import conduct, questions, replies


def reported_in_message(tracker: Tracker) -> list[str]:
    """Behaviours the latest message reports: the EntityRuler's and the rules'."""
    kb = knowledge.load()
    named = [b for b in latest_entities(tracker, "behaviour") if b in kb.behaviours]
    return list(dict.fromkeys(named + conduct.behaviours_in(latest_text(tracker))))


def _answer_question(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    role: str | None,
    model_key: str | None,
    role_stated: bool = False,
) -> bool:
    """Answer the question a report also asks ("…这正常吗", "我要替他还吗"), or,
    for someone whose situation has its own answer (前夫, 担保人, 继承人), that
    answer. False when there is nothing to answer."""
    key = question_key(tracker, model_key, role, role_stated)
    if key is None and role in questions.SITUATION_ROLES:
        key = questions.FAMILY_LIABILITY
    if key not in knowledge.load().faq:
        return False
    send(dispatcher, replies.faq_answer(key, role))
    return True


class ActionAnswerFirst(Action):
    """A report that already says what happened gets an answer to it first:
    what is wrong with it and where to complain, and the answer to a question
    it asks; the questions come after."""

    def name(self) -> str:
        return "action_answer_first"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        behaviours = reported_in_message(tracker)
        lender, events = lender_from(tracker)
        role, role_events = role_from(tracker)
        events = [*events, *role_events]  # "是我自己借的" is kept for later answers
        named_lender = lender and lender != "unknown" and not lender.startswith("generic_")
        if behaviours:
            send(dispatcher, replies.first_answer(behaviours, lender))
            events.append(SlotSet("answered_behaviours", behaviours))
        elif named_lender:
            # A report naming the lender: who it really is and where to complain.
            send(dispatcher, replies.where_to_complain(lender))
        answered = _answer_question(dispatcher, tracker, role, asked_faq(tracker), bool(role_events))
        if behaviours or named_lender or answered:
            dispatcher.utter_message(response="utter_to_go_further")
        else:
            dispatcher.utter_message(response="utter_empathy")
        return events


class ActionNotUnderstood(Action):
    """The NLU is unsure: answer what the rules still recognise (a behaviour,
    a lender, a question), else say so kindly and offer the menu."""

    def name(self) -> str:
        return "action_not_understood"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        behaviours = reported_in_message(tracker)
        lender, events = lender_from(tracker)
        role, role_events = role_from(tracker)
        events = [*events, *role_events]
        if behaviours:
            send(dispatcher, replies.first_answer(behaviours, lender))
        elif lender:
            send(dispatcher, replies.where_to_complain(lender))
        answered = _answer_question(dispatcher, tracker, role, None)
        if behaviours:
            dispatcher.utter_message(response="utter_menu")
        elif not (lender or answered):
            dispatcher.utter_message(response="utter_default")
            dispatcher.utter_message(response="utter_menu")
        return events


class ActionTriageSummary(Action):
    """After triage: what we heard, what it means, and the options."""

    def name(self) -> str:
        return "action_triage_summary"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        role = known_role(tracker)
        named = tracker.get_slot("reported_behaviours")
        if named is None:
            named = conversation_entities(tracker, "behaviour")
        behaviours = replies.reported_behaviours(role, named, conversation_entities(tracker, "relation"))
        reply = replies.triage_summary(
            role,
            tracker.get_slot("lender"),
            behaviours,
            tracker.get_slot("debt_repaid"),
            answered=tracker.get_slot("answered_behaviours"),
        )
        send(dispatcher, reply)
        return []


WHAT_NOW = "what_now"  # the knowledge file's topic and FAQ for a bare "what do I do now"


class ActionWhereToComplain(Action):
    """The complaint ladder for the user's lender."""

    def name(self) -> str:
        return "action_where_to_complain"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lender, events = lender_from(tracker)
        if questions.topic_faq(latest_text(tracker)) == WHAT_NOW:
            # "我们该怎么办" after telling the story: the plan for it (repaid or
            # not, this lender), of which the complaint ladder is a part.
            role, role_events = role_from(tracker)
            send(dispatcher, replies.faq_answer(WHAT_NOW, role, lender, said_repaid(tracker)))
            return [*events, *role_events]
        send(dispatcher, replies.where_to_complain(lender))
        return events


class ActionHandleInform(Action):
    """A bare answer outside any form ("借呗", "我是他妈妈"): use it."""

    def name(self) -> str:
        return "action_handle_inform"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        named = lenders_named(tracker)
        # "我是借款人，在借呗借的": the lender is the answer, and who the user is
        # is kept for later answers (what to say on the phone, who must pay).
        role, role_events = role_from(tracker, answering=not named, overrides=True)
        if named:
            lender, lender_events = lender_from(tracker)
            send(dispatcher, replies.where_to_complain(lender))
            return [*lender_events, *role_events]
        if role_stated(tracker, answering=True):
            send(dispatcher, replies.family_liability(role))
            return role_events
        # "我也搞不清是哪个平台": a question the rules recognise still gets its answer.
        if not _answer_question(dispatcher, tracker, known_role(tracker), None):
            dispatcher.utter_message(response="utter_menu")
        return []
