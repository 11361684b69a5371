"""Numbers typed as replies ("1", "２", "第二个") pick the options just offered.

WeChat text replies have no buttons, so every option list is also numbered.
When the user answers with a number, this action finds the last bot message
that offered buttons and replays the chosen button's payload as if the user
had clicked it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, UserUtteranceReverted, UserUttered
from rasa_sdk.executor import CollectingDispatcher

from nlu.text import normalize

_CHINESE_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_PAYLOAD = re.compile(r"^/(?P<intent>[\w/]+)(?P<entities>\{.*\})?$", re.S)


def parse_choice(text: str | None) -> int | None:
    """The option number in "1", "选2", "第三个", "３号"; None if there is none."""
    text = normalize(text)
    digits = re.findall(r"\d+", text)
    if len(digits) == 1:
        return int(digits[0])
    if digits:
        return None
    found = [v for ch, v in _CHINESE_DIGITS.items() if ch in text]
    return found[0] if len(found) == 1 else None


def last_offered_buttons(tracker: Tracker) -> list[dict[str, Any]]:
    """Buttons of the most recent bot message that had any."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            buttons = (event.get("data") or {}).get("buttons")
            if buttons:
                return buttons
    return []


def chosen_button(tracker: Tracker) -> dict[str, Any] | None:
    """The offered button the user picked by typing its number, if any."""
    number = parse_choice(tracker.latest_message.get("text"))
    buttons = last_offered_buttons(tracker)
    if number is None or not 1 <= number <= len(buttons):
        return None
    return buttons[number - 1]


def payload_to_parse_data(payload: str, text: str) -> dict[str, Any] | None:
    """Parse data for a button payload such as '/inform{"lender":"generic_bank"}'."""
    match = _PAYLOAD.match(payload.strip())
    if not match:
        return None
    entities = []
    if match.group("entities"):
        try:
            values = json.loads(match.group("entities"))
        except ValueError:
            values = {}
        entities = [{"entity": k, "value": v} for k, v in values.items()]
    intent = match.group("intent")
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "intent_ranking": [{"name": intent, "confidence": 1.0}],
        "entities": entities,
    }


class ActionSelectOption(Action):
    """Replays the payload of the option the user chose by number."""

    def name(self) -> str:
        return "action_select_option"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        buttons = last_offered_buttons(tracker)
        number = parse_choice(tracker.latest_message.get("text"))
        if not buttons:
            dispatcher.utter_message(response="utter_no_options")
            return []
        if number is None or not 1 <= number <= len(buttons):
            lines = "\n".join(f"{i}. {b['title']}" for i, b in enumerate(buttons, 1))
            dispatcher.utter_message(response="utter_choose_by_number", count=len(buttons), options=lines)
            return []
        chosen = buttons[number - 1]
        parse_data = payload_to_parse_data(chosen["payload"], chosen["title"])
        if parse_data is None:
            dispatcher.utter_message(response="utter_default")
            return []
        # Forget the number message and act as if the button had been clicked.
        # Rasa's revert also drops the `action_listen` before the number, so
        # it is restored for the rules to see "listen → user intent" again.
        return [
            UserUtteranceReverted(),
            ActionExecuted("action_listen"),
            UserUttered(chosen["title"], parse_data),
        ]
