"""Pausing and resuming a form around a safety interruption."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher


class ActionPauseForm(Action):
    """Remember which form was running and stop it, keeping its slots."""

    def name(self) -> str:
        return "action_pause_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        loop = (tracker.active_loop or {}).get("name")
        if not loop:
            return []
        dispatcher.utter_message(response="utter_offer_resume")
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("paused_form", loop)]


class ActionResumeForm(Action):
    """Start the paused form again; it asks only for what is still missing."""

    def name(self) -> str:
        return "action_resume_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        loop = tracker.get_slot("paused_form")
        if not loop:
            dispatcher.utter_message(response="utter_nothing_to_resume")
            return []
        return [SlotSet("paused_form", None), FollowupAction(loop)]
