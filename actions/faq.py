"""Answers to the FAQ retrieval intent (faq/<key>).

Most answers are the generated ``utter_faq/<key>`` responses. "Does the family
have to pay" (faq/family_liability) and "what do I say on the phone"
(faq/what_to_say) are answered for who the user is, when we know it: a
borrower, a spouse, a guarantor, an heir and a third party each get their own
facts. Buttons name the question with ``/faq{"faq_topic": "<key>"}``, because
Rasa's payload syntax cannot name a retrieval sub-intent.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

import knowledge
from actions.common import latest_entities, latest_text, lender_from, lenders_named, role_from, send
from advisor import conduct, questions, replies


def faq_key(message: dict[str, Any]) -> str | None:
    """The FAQ a parsed message asks: a button's ``faq_topic``, else the response selector's pick."""
    for entity in message.get("entities") or []:
        if entity.get("entity") == "faq_topic" and isinstance(entity.get("value"), str):
            return entity["value"]
    response = ((message.get("response_selector") or {}).get("faq") or {}).get("response") or {}
    key = response.get("intent_response_key") or ""
    return key.split("/", 1)[1] if key.startswith("faq/") else None


QUESTION = re.compile(r"吗|是不是|会不会|能不能|要不要|有没有用|怎么办|[?？]")
MIN_FAQ_INTENT = 0.15  # the FAQ is the runner-up intent, at least this likely
MIN_FAQ_ANSWER = 0.5  # and the response selector is sure which answer fits


def asked_faq(tracker: Tracker) -> str | None:
    """The FAQ (its key) asked inside a report, if the NLU is sure of it."""
    message = tracker.latest_message
    if not QUESTION.search(message.get("text") or ""):
        return None
    ranking = {i.get("name"): i.get("confidence", 0) for i in message.get("intent_ranking") or []}
    response = ((message.get("response_selector") or {}).get("faq") or {}).get("response") or {}
    if ranking.get("faq", 0) >= MIN_FAQ_INTENT and response.get("confidence", 0) >= MIN_FAQ_ANSWER:
        return faq_key(message)
    return None


def question_key(
    tracker: Tracker, model_key: str | None, role: str | None, role_stated: bool = False
) -> str | None:
    """The FAQ the latest message asks: rules first (advisor.questions), then the model's pick."""
    relations = tuple(latest_entities(tracker, "relation"))
    return questions.faq_for(latest_text(tracker), model_key, role, relations, role_stated)


def said_repaid(tracker: Tracker) -> bool:
    """Whether the user said the debt is paid off (the triage answer, or any
    earlier message: "上个月已经全部还清了", not "还没还清")."""
    if tracker.get_slot("debt_repaid") == "repaid":
        return True
    texts = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"]
    return any(replies.says_repaid(text) for text in texts)


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        kb = knowledge.load()
        # Who the user said they are, and the lender they named, are kept for
        # later answers, whatever the question.
        role, events = role_from(tracker)
        model_key = replies.faq_for_message(faq_key(tracker.latest_message), latest_text(tracker))
        key = question_key(tracker, model_key, role, role_stated=bool(events))
        lender, lender_events = lender_from(tracker)
        events = [*events, *lender_events]
        # What the message reports is answered first: "十一点又打给我妈了…是真的吗".
        behaviours = (
            conduct.behaviours_in(latest_text(tracker)) if conduct.reports(latest_text(tracker)) else []
        )
        asks_lender = bool(lenders_named(tracker)) and replies.asks_about_lender(latest_text(tracker))
        if behaviours and asks_lender:
            send(dispatcher, replies.Reply(replies.assessment(behaviours, lender)))
        elif behaviours:  # what is wrong with it, and where to complain
            send(dispatcher, replies.first_answer(behaviours, lender))
        topic = questions.topic_faq(latest_text(tracker), key)
        if asks_lender:
            send(dispatcher, replies.where_to_complain(lender))
            if topic in kb.faq:  # "拍拍贷怎么有两份合同，我欠谁的": the topic too
                send(dispatcher, replies.faq_answer(topic, role))
        elif key in kb.faq:
            send(dispatcher, replies.faq_answer(key, role, lender, said_repaid(tracker)))
        else:
            dispatcher.utter_message(response="utter_default")
        return events
