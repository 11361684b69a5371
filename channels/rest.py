"""The REST channel (/webhooks/rest/webhook) with input guarded.

Same protocol as Rasa's RestInput; typed "/intent{...}" strings that are not
our buttons' payloads are treated as text, a body that is not a JSON object
gets a 400 instead of a server error, and messages pass channels/guard.py
(per-sender rate limit, maximum length: a kind reply instead).
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic import Blueprint
from sanic.exceptions import InvalidUsage
from sanic.request import Request

from channels.guard import OnNewMessage, channel_guard
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

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        # Rasa's (the body's "metadata"), plus the message id (nginx sets one on every request
        # in the scaled profile: serving/nginx.conf.template) and the retry flag, so a message
        # sent twice is answered once (serving/patches.py). A client may send its own id too.
        metadata = super().get_metadata(request)
        message_id = request.headers.get("X-Anxin-Message-Id")
        if not message_id:
            return metadata
        metadata = dict(metadata) if isinstance(metadata, dict) else {}
        metadata["message_id"] = message_id[:128]
        if request.headers.get("X-Anxin-Retry"):
            metadata["retry"] = True
        return metadata

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return super().blueprint(channel_guard(on_new_message, self.name()))
