"""Erasing everything the bot keeps about a user, after a confirmation."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import intent_name
from actions.form_kit import ALWAYS_STEP_ASIDE, FormKit, confirmation
from evidence import store as evidence_store
from incidents.store import get_store


class ValidateEraseForm(FormKit):
    """ "确定全部删除" or not: anything but a clear yes keeps the data."""

    # The question suggests exporting the evidence pack first: that is answered,
    # then the question is asked again.
    step_aside_for = ALWAYS_STEP_ASIDE | {"request_evidence_pack"}

    def name(self) -> str:
        return "validate_erase_form"

    async def extract_erase_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not self.asked(tracker, "erase_confirmed") or intent_name(tracker) in self.step_aside_for:
            return {}
        # Anything but a clear yes keeps the data.
        return {"erase_confirmed": bool(confirmation(tracker))}


class ActionEraseMyData(Action):
    """Deletes the incident log and submissions now; the conversation itself is
    deleted by the tracker store when it sees ``data_erased``
    (privacy/tracker_store.py)."""

    def name(self) -> str:
        return "action_erase_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if not tracker.get_slot("erase_confirmed"):
            dispatcher.utter_message(response="utter_erase_cancelled")
            return [SlotSet("erase_confirmed", None)]
        removed = await asyncio.to_thread(get_store().delete_all, tracker.sender_id)
        # The evidence files too (rows, bytes and the owner's folder: evidence/store.py).
        files = await asyncio.to_thread(evidence_store.get_store().delete_all, tracker.sender_id)
        dispatcher.utter_message(response="utter_data_erased", count=removed)
        if files:
            dispatcher.utter_message(response="utter_evidence_erased", count=files)
        # Tells the web widget to forget its copy of the conversation too.
        dispatcher.utter_message(json_message={"type": "data_erased"})
        return [SlotSet("erase_confirmed", None), SlotSet("data_erased", True)]
