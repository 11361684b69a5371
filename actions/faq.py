"""Answers to the FAQ retrieval intent (faq/<key>).

Most answers are the generated ``utter_faq/<key>`` responses. "Does the family
have to pay" (faq/family_liability) and "what do I say on the phone"
(faq/what_to_say) are answered for who the user is, when we know it: a
borrower, a spouse, a guarantor, an heir and a third party each get their own
facts. Buttons name the question with ``/faq{"faq_topic": "<key>"}``, because
Rasa's payload syntax cannot name a retrieval sub-intent.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import knowledge
from actions.common import known_role, latest_entities, latest_text, send
from advisor import conduct, questions, replies
from advisor.roles import STATED_ROLES, infer_role


def faq_key(message: dict[str, Any]) -> str | None:
    """The FAQ a parsed message asks: a button's ``faq_topic``, else the response selector's pick."""
    for entity in message.get("entities") or []:
        if entity.get("entity") == "faq_topic" and isinstance(entity.get("value"), str):
            return entity["value"]
    response = ((message.get("response_selector") or {}).get("faq") or {}).get("response") or {}
    key = response.get("intent_response_key") or ""
    return key.split("/", 1)[1] if key.startswith("faq/") else None


def user_role(tracker: Tracker) -> tuple[str | None, list[dict[str, Any]]]:
    """The known role, or one read from the latest message (with the event that keeps it)."""
    known = known_role(tracker)
    stated = infer_role(latest_text(tracker), latest_entities(tracker, "relation"))
    # A role said outright now (a guarantor, an heir) corrects an earlier one.
    if stated and (not known or (stated in STATED_ROLES and stated != known)):
        return stated, [SlotSet("user_role", stated)]
    return known, []


def question_key(tracker: Tracker, model_key: str | None, role: str | None, role_stated: bool = False) -> str | None:
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
        role, events = user_role(tracker)
        model_key = replies.faq_for_message(faq_key(tracker.latest_message), latest_text(tracker))
        key = question_key(tracker, model_key, role, role_stated=bool(events))
        lenders = [v for v in latest_entities(tracker, "lender") if v in kb.data["lenders"]]
        if lenders and not tracker.get_slot("lender"):
            events = [*events, SlotSet("lender", lenders[0])]
        # What the message reports is answered first: "十一点又打给我妈了…是真的吗".
        behaviours = conduct.behaviours_in(latest_text(tracker)) if conduct.reports(latest_text(tracker)) else []
        asks_lender = bool(lenders) and replies.asks_about_lender(latest_text(tracker))
        if behaviours and asks_lender:
            send(dispatcher, replies.Reply(replies.assessment(behaviours, lenders[0])))
        elif behaviours:  # what is wrong with it, and where to complain
            send(dispatcher, replies.first_answer(behaviours, lenders[0] if lenders else tracker.get_slot("lender")))
        topic = questions.topic_faq(latest_text(tracker), key)
        if asks_lender:
            send(dispatcher, replies.where_to_complain(lenders[0]))
            if topic in kb.faq:  # "拍拍贷怎么有两份合同，我欠谁的": the topic too
                send(dispatcher, replies.faq_answer(topic, role))
        elif key in kb.faq:
            lender = tracker.get_slot("lender") or (lenders[0] if lenders else None)
            send(dispatcher, replies.faq_answer(key, role, lender, said_repaid(tracker)))
        else:
            dispatcher.utter_message(response="utter_default")
        return events
