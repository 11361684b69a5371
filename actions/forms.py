"""Validation of the triage form: who the user is and which lender.

Slots are read from the user's words (including the message that started the
form, so nothing already said is asked again). A reply that answers nothing
gets a short explanation; after the second miss the form moves on rather than
trapping a frightened user in a loop. Questions and safety messages typed
mid-form are not swallowed: the form steps aside so the rules can answer
them, and resumes afterwards.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

import knowledge
from actions.common import (
    conversation_entities,
    intent_name,
    latest_entities,
    latest_text,
    lender_from,
)
from actions.faq import faq_key
from actions.options import chosen_button
from advisor.roles import ROLE_UNKNOWN, infer_role

# Intents that are not answers to the form's question. The form rejects them
# so that a rule can answer (FAQ, safety, ...) before the form resumes.
INTERRUPTIONS = {
    "faq",
    "ask_where_complain",
    "bot_challenge",
    "ask_capabilities",
    "out_of_scope",
    "greet",
    "goodbye",
    "thanks",
    "log_incident",
    "show_log",
    "correct_incident",
    "delete_incident",
    "request_letter",
    "record_submission",
    "delete_my_data",
    "ask_privacy",
}
MAX_MISSES = 2
NOTHING_SPECIFIC = ("就是打电话", "只是打电话", "光打电话", "没什么", "都没有", "没有")
# Most telling first: "还没还清" is not repaid, though it holds "还清".
REPAID_WORDS = (
    ("partly", ("还了一部分", "一部分", "还了一些", "还了点", "还了一点", "部分还")),
    ("not_repaid", ("没还", "还没", "未还", "没有还", "不还", "还不上", "还不起", "逾期", "没钱还", "欠着")),
    ("repaid", ("还清", "结清", "还完", "已经还了", "都还了", "还上了")),
)
ANSWER_ONLY_WORDS = ("不还",)
UNKNOWN_WORDS = ("不知道", "不清楚", "不晓得", "搞不清", "不确定", "忘了", "说不上")


def _answer_text(tracker: Tracker) -> str:
    """The user's answer; a number stands for the option it picks ("2", "选第二个"),
    but not a number inside a sentence ("第2条记错了")."""
    text = latest_text(tracker).strip()
    short = len(text) <= 4 or intent_name(tracker) == "choose_option"
    button = chosen_button(tracker) if short else None
    if button:
        payload = button.get("payload", "")
        return button.get("title", "") if payload.startswith("/") else payload
    return latest_text(tracker)


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


class FormValidation(FormValidationAction):
    """rasa-sdk's form validation, except that slots an ``extract_`` method sets
    besides its own (a retry counter, the time's precision, ...) are kept:
    rasa-sdk drops every slot that is not a required slot of the form."""

    # Intents that are not an answer: unless the message answers the question
    # asked, the form steps aside (its validation is rejected) so that a rule
    # can answer first, and the form resumes afterwards. (A safety message
    # never reaches a form: dialogue.safety_policy answers it first; a form
    # started after a threat reads the threat from the message.)
    step_aside_for: frozenset[str] = frozenset({"safety_threat", "faq"})

    # The slot that counts wrong answers to the current question.
    retries_slot: str = "triage_retries"

    @abstractmethod
    def name(self) -> str: ...

    def moving_on(self, slot: str) -> str:
        """What to say when a question is skipped after two wrong answers."""
        return "没关系，这个先跳过，我们往下走。"

    def _missed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, fallback: Any = None
    ) -> dict[str, Any]:
        """The user answered something else: explain once; after a second miss,
        move on with ``fallback`` (when the slot may stay unknown)."""
        if intent_name(tracker) in self.step_aside_for:
            return {}
        misses = int(tracker.get_slot(self.retries_slot) or 0) + 1
        if misses >= MAX_MISSES and fallback is not None:
            dispatcher.utter_message(text=self.moving_on(slot))
            return {slot: fallback, self.retries_slot: 0}
        dispatcher.utter_message(response=f"utter_explain_{slot}")
        return {self.retries_slot: misses}

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events = await super().run(dispatcher, tracker, domain)
        requested = tracker.get_slot("requested_slot")
        answered = any(e.get("name") == requested and e.get("value") is not None for e in events)
        if requested and not answered and intent_name(tracker) in self.step_aside_for:
            if tracker.latest_action_name in (None, "action_listen"):
                return []  # step aside: a rule answers the message first
            # Back after the interruption: ask the same question again (Rasa
            # would otherwise pick the domain's first empty slot).
            return [SlotSet("requested_slot", requested)]
        return events

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        slots = tracker.slots_to_validate()
        for name, value in list(slots.items()):
            method = getattr(self, f"validate_{name}", None)
            if name not in required or method is None:
                continue
            output = await method(value, dispatcher, tracker, domain)
            if isinstance(output, dict):
                slots.update(output)
                tracker.slots.update(output)
        return [SlotSet(name, value) for name, value in slots.items()]


class ValidateTriageForm(FormValidation):
    """Fills ``user_role`` and ``lender`` from what the user said."""

    # A question in the message that starts triage is answered by
    # action_answer_first, before the form's first question.
    step_aside_for = frozenset(INTERRUPTIONS)

    def name(self) -> str:
        return "validate_triage_form"

    async def extract_user_role(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("user_role"):
            return {}
        asked = tracker.get_slot("requested_slot") == "user_role"
        if asked and tracker.get_slot("lender") and lender_from(tracker)[1]:
            return {}  # the message corrects the lender; the role question is asked again
        role = infer_role(
            _answer_text(tracker) if asked else latest_text(tracker),
            latest_entities(tracker, "relation"),
            answering_role_question=asked,
        )
        if role:
            return {"user_role": role}
        if asked:
            return self._missed(dispatcher, tracker, "user_role", fallback=ROLE_UNKNOWN)
        return {}

    async def extract_lender(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = tracker.get_slot("requested_slot") == "lender"
        lender, corrected = lender_from(tracker)
        if corrected:
            if tracker.get_slot("lender"):  # "不对，不是借呗，是微粒贷"
                dispatcher.utter_message(text=f"好，改成{knowledge.load().lender_label(lender)}。")
            return {"lender": lender}
        if not asked or tracker.get_slot("lender"):
            return {}
        text = _answer_text(tracker)
        kb = knowledge.load()
        key = kb.resolve_lender(text)
        if key:
            return {"lender": key}
        if any(word in text for word in UNKNOWN_WORDS):
            return {"lender": "unknown"}
        return self._missed(dispatcher, tracker, "lender", fallback="unknown")

    async def validate_user_role(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in knowledge.load().relations or value == ROLE_UNKNOWN:
            return {"user_role": value}
        return {"user_role": None}

    async def extract_reported_behaviours(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("reported_behaviours") is not None:
            return {}
        asked = tracker.get_slot("requested_slot") == "reported_behaviours"
        kb = knowledge.load()
        named = [b for b in conversation_entities(tracker, "behaviour") if b in kb.behaviours]
        text = _answer_text(tracker)
        if asked:
            # A button chosen by its number: the entities were read from "3", not the payload.
            named += [
                key for key, b in kb.behaviours.items() if any(p in text for p in b.get("patterns", []))
            ]
        if named:
            return {"reported_behaviours": list(dict.fromkeys(named))}
        if not asked:
            return {}
        if any(word in text for word in NOTHING_SPECIFIC + UNKNOWN_WORDS):
            return {"reported_behaviours": []}
        return self._missed(dispatcher, tracker, "reported_behaviours", fallback=[])

    async def extract_debt_repaid(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("debt_repaid"):
            return {}
        asked = tracker.get_slot("requested_slot") == "debt_repaid"
        text = _answer_text(tracker) if asked else latest_text(tracker)
        for value, words in REPAID_WORDS:
            # "说不还就让你坐牢" quotes the collector: "不还" counts only as an answer.
            if any(word in text for word in words if asked or word not in ANSWER_ONLY_WORDS):
                return {"debt_repaid": value}
        if asked and any(word in text for word in UNKNOWN_WORDS):
            return {"debt_repaid": "unknown"}
        return self._missed(dispatcher, tracker, "debt_repaid", fallback="unknown") if asked else {}

    async def validate_lender(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        kb = knowledge.load()
        if value in kb.data["lenders"]:
            return {"lender": value}
        key = kb.resolve_lender(str(value)) if value else None
        return {"lender": key}
