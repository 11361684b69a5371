"""Socket.IO for the web chat widget (path /socket.io), guarded like REST.

Rasa's SocketIOInput, with:

- messages through channels/guard.py: typed "/intent{...}" defused, per-sender
  rate limit and maximum length (a kind ``bot_uttered`` reply instead);
- malformed events (not an object, a message that is not text, metadata that
  is not JSON) ignored instead of raising inside the server; so is an empty
  message (the standard ``rasa-webchat`` widget sends ``message: null`` when it
  opens without an ``initPayload``), which would only get "I did not understand";
- ``session_request`` fixed for the python-socketio in the lock: Rasa 3.6 calls
  ``AsyncServer.enter_room`` without awaiting it, which newer python-socketio
  made a coroutine, so the client never joined its session's room and never
  received a reply;
- Socket.IO's WebSocket transport works once serving/patches.py has fixed
  Sanic's WebSocket receive for Python 3.11 (``python -m serving.server``);
- connections from a browser page on another origin refused: the widget's
  origin is ``ANXIN_CORS_ORIGIN`` (as for Rasa's ``--cors``; several may be
  separated by spaces or commas, ``*`` allows all). Clients that send no
  Origin (apps, scripts) are not browsers and are let in.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.guard import OnNewMessage, channel_guard

logger = logging.getLogger(__name__)

DEFAULT_ORIGIN = "http://localhost:8080"


def allowed_origins(env: Mapping[str, str] | None = None) -> set[str] | None:
    """The origins whose pages may connect; None when any may."""
    env = os.environ if env is None else env
    raw = env.get("ANXIN_CORS_ORIGIN") or DEFAULT_ORIGIN
    origins = {o.strip().rstrip("/") for o in raw.replace(",", " ").split() if o.strip()}
    return None if "*" in origins else origins


def _clean_event(data: Any, metadata_key: str) -> dict[str, Any] | None:
    """The user event's data as Rasa's handler expects it, or None to ignore it."""
    if not isinstance(data, dict):
        return None
    data = dict(data)
    if not isinstance(data.get("message", ""), str):
        data["message"] = ""
    metadata = data.get(metadata_key, {})
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = {}
    data[metadata_key] = metadata if isinstance(metadata, dict) else {}
    session_id = data.get("session_id")
    if session_id is not None and not isinstance(session_id, str):
        data["session_id"] = str(session_id)
    return data


class GuardedSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = super().blueprint(channel_guard(on_new_message, self.name()))
        sio = self.sio
        assert sio is not None
        handlers = sio.handlers[self.namespace or "/"]
        rasa_connect, rasa_message = handlers["connect"], handlers[self.user_message_evt]
        origins = allowed_origins()

        async def connect(sid: str, environ: dict, auth: Any = None) -> bool:
            origin = (environ.get("HTTP_ORIGIN") or "").rstrip("/")
            if origin and origins is not None and origin not in origins:
                logger.info("socketio.refused reason=origin")
                return False
            return await rasa_connect(sid, environ, auth)

        async def session_request(sid: str, data: Any) -> None:
            data = dict(data) if isinstance(data, dict) else {}
            session_id = data.get("session_id")
            session_id = str(session_id)[:128] if session_id not in (None, "") else uuid.uuid4().hex
            if self.session_persistence:
                entered = sio.enter_room(sid, session_id)
                if inspect.isawaitable(entered):
                    await entered
            await sio.emit("session_confirm", session_id, room=sid)

        async def handle_message(sid: str, data: Any) -> None:
            cleaned = _clean_event(data, self.metadata_key or "metadata")
            if cleaned is None:
                logger.info("socketio.ignored reason=malformed")
                return
            if not cleaned.get("message", "").strip():
                logger.info("socketio.ignored reason=empty")
                return
            await rasa_message(sid, cleaned)

        sio.on("connect", connect, namespace=self.namespace)
        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return blueprint
