"""What a user may send as a "/intent{...}" payload.

Buttons send payloads such as ``/inform{"lender":"generic_bank"}``. Typed
text that merely starts with "/" must not let a user inject arbitrary intents
or entities, so only the payloads our own buttons use pass through; anything
else reaches the NLU as ordinary text.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Longer messages are refused with a kind reply (channels/guard.py), not cut.
MAX_MESSAGE_CHARS = 2000

# Intents our buttons send, with the entities each may carry.
BUTTON_PAYLOADS: dict[str, set[str]] = {
    "report_harassment": set(),
    "ask_where_complain": set(),
    "faq": {"faq_topic"},
    "inform": {"relation", "lender"},
    "restart": set(),
    "greet": set(),
}
_LEADING = re.compile(r"^[/\s]+")
_PAYLOAD = re.compile(r"^/(?P<intent>\w+)(?P<entities>\{.*\})?$", re.S)


def is_allowed_payload(text: str) -> bool:
    match = _PAYLOAD.match(text)
    if not match or match.group("intent") not in BUTTON_PAYLOADS:
        return False
    raw = match.group("entities")
    if raw is None:
        return True
    try:
        entities = json.loads(raw)
    except ValueError:
        return False
    allowed = BUTTON_PAYLOADS[match.group("intent")]
    return (
        isinstance(entities, dict)
        and set(entities) <= allowed
        and all(isinstance(v, str) and len(v) < 64 for v in entities.values())
    )


def sanitize(message: Any) -> str:
    """The text to hand to Rasa for a raw incoming ``message`` (any length: the guard
    refuses over-long ones whole rather than answering half a message)."""
    if not isinstance(message, str):
        return ""
    text = message.strip()
    if text.startswith("/") and not is_allowed_payload(text):
        # All leading slashes and spaces: "/ /intent" must not come out as "/intent".
        text = _LEADING.sub("", text)
    return text
