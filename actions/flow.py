"""Resuming a form paused by a safety interruption (dialogue.safety_policy
pauses it and keeps its slots in ``paused_form``)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher


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
        dispatcher.utter_message(response="utter_resuming")
        return [SlotSet("paused_form", None), FollowupAction(loop)]
