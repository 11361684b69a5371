"""The REST channel (/webhooks/rest/webhook) with input guarded.

Same protocol as Rasa's RestInput; typed "/intent{...}" strings that are not
our buttons' payloads are treated as text, over-long messages are cut, and a
body that is not a JSON object gets a 400 instead of a server error.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.exceptions import InvalidUsage
from sanic.request import Request

from channels.payloads import sanitize


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        body = req.json
        if not isinstance(body, dict):
            raise InvalidUsage("expected a JSON object with 'sender' and 'message'")
        return body

    async def _extract_sender(self, req: Request) -> str | None:
        sender = self._body(req).get("sender")
        return str(sender)[:128] if sender not in (None, "") else None

    def _extract_message(self, req: Request) -> str | None:
        return sanitize(self._body(req).get("message"))
