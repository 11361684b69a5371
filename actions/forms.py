"""Validation of the triage form: who the user is and which lender.

Slots are read from the user's words (including the message that started the
form, so nothing already said is asked again). The form is built on the form
kit (actions/form_kit.py): explain once, then move on; questions typed
mid-form are answered first and the form resumes.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

import knowledge
from actions.common import conversation_entities, latest_entities, latest_text, lender_from
from actions.form_kit import INTERRUPTIONS, FormKit, answer_text
from advisor import answers
from advisor.roles import ROLE_UNKNOWN, infer_role


class ValidateTriageForm(FormKit):
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
        asked = self.asked(tracker, "user_role")
        if asked and tracker.get_slot("lender") and lender_from(tracker)[1]:
            return {}  # the message corrects the lender; the role question is asked again
        role = infer_role(
            answer_text(tracker) if asked else latest_text(tracker),
            latest_entities(tracker, "relation"),
            answering_role_question=asked,
        )
        if role:
            return {"user_role": role}
        if asked:
            return self.missed(dispatcher, tracker, domain, "user_role", fallback=ROLE_UNKNOWN)
        return {}

    async def extract_lender(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = self.asked(tracker, "lender")
        lender, corrected = lender_from(tracker)
        if corrected:
            if tracker.get_slot("lender"):  # "不对，不是借呗，是微粒贷"
                dispatcher.utter_message(
                    response="utter_lender_changed", lender_label=knowledge.load().lender_label(lender)
                )
            return {"lender": lender}
        if not asked or tracker.get_slot("lender"):
            return {}
        text = answer_text(tracker)
        key = knowledge.load().resolve_lender(text)
        if key:
            return {"lender": key}
        if answers.says_unknown(text):
            return {"lender": "unknown"}
        return self.missed(dispatcher, tracker, domain, "lender", fallback="unknown")

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
        asked = self.asked(tracker, "reported_behaviours")
        kb = knowledge.load()
        named = [b for b in conversation_entities(tracker, "behaviour") if b in kb.behaviours]
        text = answer_text(tracker)
        if asked:
            # A button chosen by its number: the entities were read from "3", not the payload.
            named += [
                key for key, b in kb.behaviours.items() if any(p in text for p in b.get("patterns", []))
            ]
        if named:
            return {"reported_behaviours": list(dict.fromkeys(named))}
        if not asked:
            return {}
        if answers.says_nothing_specific(text):
            return {"reported_behaviours": []}
        return self.missed(dispatcher, tracker, domain, "reported_behaviours", fallback=[])

    async def extract_debt_repaid(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("debt_repaid"):
            return {}
        asked = self.asked(tracker, "debt_repaid")
        text = answer_text(tracker) if asked else latest_text(tracker)
        value = answers.repaid_answer(text, asked)
        if value:
            return {"debt_repaid": value}
        return self.missed(dispatcher, tracker, domain, "debt_repaid", fallback="unknown") if asked else {}

    async def validate_lender(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        kb = knowledge.load()
        if kb.is_lender(value):
            return {"lender": value}
        key = kb.resolve_lender(str(value)) if value else None
        return {"lender": key}
