"""Run-time fixes to Rasa 3.6.21 for serving, installed in the Rasa server
process by ``python -m serving.server`` (scripts/run.sh starts Rasa through it).

Each keeps Rasa's behaviour except where said; tests/unit/test_serving_patches.py
checks them.

- **Cached validator for action responses.** Rasa calls
  ``jsonschema.validate(result, schema)`` on every custom-action response,
  which first re-checks the large, constant schema against the JSON-Schema
  meta-schema: ~13 ms of CPU per action call, a third of a message's CPU in
  the Rasa process (measured). Same errors, raised the same way.
- **Event classes looked up once.** ``Event.resolve_by_type`` walks every
  subclass of ``Event`` for each stored event it reads back (a tracker of 60
  events: 60 walks); the answer for a name never changes once found.
- **A polite reply when the action server fails.** By default a failed custom
  action (server down, timeout, 5xx) only logs an error: the user gets no
  answer at all. Now the user gets ``ACTION_FAILED_REPLY`` (once per message)
  and Rasa carries on as before (the failed action's events are dropped), so
  the next message works normally once the action server is back. A
  rejection (HTTP 400, a form's "not this slot") is not a failure.
- **Action calls time out** after ``ANXIN_ACTION_TIMEOUT`` seconds (default
  10) instead of Rasa's 5 minutes, so a hung action server gives the reply
  above within WeChat's retries rather than never.
- **SQLite tracker store in WAL mode, without a sync per message.** Rasa
  commits every message to SQLite with SQLite's defaults (rollback journal,
  ``synchronous=FULL``): an fsync per commit, while the whole server waits
  (the store is synchronous). WAL with ``synchronous=NORMAL`` still survives a
  crash of the process intact (a power cut may lose the last commits, never
  corrupt the file), and readers no longer block the writer.
- **A conversation lock cannot be lost while waiting for it.** In Rasa's
  ticket lock a waiting message whose own ticket expires (it waited longer
  than ``TICKET_LOCK_LIFETIME``, e.g. behind a process that died holding the
  lock) can never be served: it waits until the HTTP request times out and
  the user gets nothing (measured: 60 s, then an empty answer). Now a waiter
  goes ahead as soon as no unexpired ticket is ahead of its own, and checks
  every 0.1 s instead of every second (a user's quick second message no
  longer waits a whole second).
- **The loaded model is kept out of garbage collection** (``gc.freeze()`` once
  the model is loaded). Python's full collections otherwise walk the ~650,000
  objects of TensorFlow, spaCy and the model every few hundred messages:
  a 0.3 s stall of the whole server each time (measured), for nothing, since
  those objects live as long as the process.
- **Socket.IO over WebSocket works on Python 3.11.** Sanic 21.12 (the newest
  Rasa 3.6 allows) receives a WebSocket message with ``asyncio.wait`` over a
  bare coroutine, which Python 3.11 refuses (``TypeError: Passing coroutines
  is forbidden, use tasks explicitly``): Engine.IO's WebSocket handler died
  on the first message after the handshake, the socket was dropped (browsers
  saw "Invalid frame header") and clients fell back to long polling, or never
  connected when they allowed WebSocket only (``rasa-webchat`` does). Now the
  same receive with the coroutine wrapped in a task (as Sanic 22.12 does),
  and the task cancelled when the receive is given up. Only the websocket
  transport of Socket.IO uses Sanic's WebSocket in this project.
- **A message is answered once, even when sent twice.** A message may carry
  an id (``metadata["message_id"]``; channels/rest.py reads the
  ``X-Anxin-Message-Id`` header, which nginx sets on every request in the
  scaled profile: serving/nginx.conf.template). It becomes the stored user
  event's ``message_id``. A message whose id is already in the conversation
  is not processed again: the bot messages stored after it are sent instead.
  nginx sends a request again to another Rasa process when the first died
  with it in flight, perhaps after saving the answer, and cannot mark it as a
  retry: so every message with an id is checked (one more read of the
  conversation, under its lock), flagged as a retry
  (``metadata["retry"]``, header ``X-Anxin-Retry``) or not.

The fixes replace private Rasa names, so they fail loudly: ``install()``
refuses any Rasa other than ``PINNED_RASA``, and each replacement checks that
its target still exists (``PatchTargetMissing``). ``in_effect()`` says which
fixes are in place (a test asserts all of them).
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

ACTION_FAILED_REPLY = (
    "抱歉，我这边暂时出了点问题，没能处理好这条消息。请稍后再试一次，之前说过的内容都还在。"
    "如果有人威胁您或家人的人身安全，请立即拨打 110。"
)
DEFAULT_ACTION_TIMEOUT = 10.0
MESSAGE_ID_KEY = "message_id"
RETRY_KEY = "retry"

PINNED_RASA = "3.6.21"

_installed = False
# name → (owner, attribute, replacement) of every replacement made.
_replaced: dict[str, tuple[Any, str, Any]] = {}


class PatchTargetMissing(RuntimeError):
    """A name a fix replaces is not in this Rasa: the fix would silently do nothing."""


def _replace(fix: str, owner: Any, attribute: str, replacement: Any) -> Any:
    """Replace ``owner.attribute`` (which must exist) and return the original."""
    if not hasattr(owner, attribute):
        raise PatchTargetMissing(f"{fix}: {getattr(owner, '__name__', owner)}.{attribute} is missing in this Rasa")
    original = getattr(owner, attribute)
    setattr(owner, attribute, replacement)
    _replaced[fix] = (owner, attribute, replacement)
    return original


# name → the SQLAlchemy "connect" listener a fix added.
_listeners: dict[str, Any] = {}


def in_effect() -> dict[str, bool]:
    """Each fix's name, and whether its replacement (or listener) is still in place."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    effect = {
        fix: owner.__dict__.get(attribute, getattr(owner, attribute, None)) is replacement
        for fix, (owner, attribute, replacement) in _replaced.items()
    }
    effect.update({fix: event.contains(Engine, "connect", fn) for fix, fn in _listeners.items()})
    return effect


def check_rasa_version(version: str | None = None) -> None:
    """Refuse a Rasa the fixes were not written for."""
    if version is None:
        import rasa

        version = rasa.__version__
    if version != PINNED_RASA:
        raise RuntimeError(f"serving.patches is written for Rasa {PINNED_RASA}, not {version}: review every fix")


# --- cached validator for action responses ---------------------------------------------------------


def _cached_action_response_validation() -> None:
    import jsonschema
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        # What jsonschema.validate(result, schema) does, minus re-checking the schema.
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    _replace("cached_action_validation", RemoteAction, "_validate_action_result", _validate_action_result)


# --- event classes looked up once ------------------------------------------------------------------


def _cached_event_types() -> None:
    from rasa.shared.core.events import Event

    if not hasattr(Event, "resolve_by_type"):
        raise PatchTargetMissing("cached_event_types: Event.resolve_by_type is missing in this Rasa")
    original = Event.resolve_by_type
    found: dict[str, type] = {}

    def resolve_by_type(type_name: str, default: type | None = None) -> type | None:
        cls = found.get(type_name)
        if cls is not None:
            return cls
        cls = original(type_name, default)
        if cls is not None and cls is not default and getattr(cls, "type_name", None) == type_name:
            found[type_name] = cls
        return cls

    _replace("cached_event_types", Event, "resolve_by_type", staticmethod(resolve_by_type))


# --- failed custom actions -------------------------------------------------------------------------


def action_timeout(env: dict[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    try:
        value = float(env.get("ANXIN_ACTION_TIMEOUT", "") or DEFAULT_ACTION_TIMEOUT)
    except ValueError:
        return DEFAULT_ACTION_TIMEOUT
    return value if value > 0 else DEFAULT_ACTION_TIMEOUT


async def apologise_once(output_channel: Any, recipient_id: str) -> None:
    """Send ACTION_FAILED_REPLY on this message's output channel, at most once."""
    if output_channel is None or getattr(output_channel, "_anxin_apologised", False):
        return
    try:
        output_channel._anxin_apologised = True
    except AttributeError:
        return
    try:
        await output_channel.send_text_message(recipient_id, ACTION_FAILED_REPLY)
    except Exception as error:  # the reply is a courtesy; never make things worse
        logger.warning("serving.apology.failed error=%s", type(error).__name__)


def _polite_action_failures() -> None:
    import rasa.core.actions.action as action_module
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction

    _replace("action_timeout", action_module, "DEFAULT_REQUEST_TIMEOUT", action_timeout())
    original_run = RemoteAction.run

    async def run(self: RemoteAction, output_channel, nlg, tracker, domain):  # type: ignore[no-untyped-def]
        try:
            return await original_run(self, output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise
        except Exception as error:
            logger.error(
                "serving.action.failed action=%s error=%s; the user is asked to try again",
                self.name(),
                type(error).__name__,
            )
            await apologise_once(output_channel, tracker.sender_id)
            raise

    _replace("polite_action_failures", RemoteAction, "run", run)


# --- conversation locks --------------------------------------------------------------------------

LOCK_POLL_SECONDS = 0.1


def nobody_ahead(lock: Any, ticket: int) -> bool:
    """True when no live ticket older than ``ticket`` holds the lock."""
    return all(t.number >= ticket for t in lock.tickets if not t.has_expired())


def _reliable_lock_waits() -> None:
    import asyncio

    from rasa.core.lock import TicketLock
    from rasa.core.lock_store import LockStore

    async def _acquire_lock(self: LockStore, conversation_id: str, ticket: int, wait_time_in_seconds: float):  # type: ignore[no-untyped-def]
        wait = min(wait_time_in_seconds, LOCK_POLL_SECONDS)
        while True:
            lock = self.get_lock(conversation_id)
            if not lock:  # every ticket expired and the lock was removed: nobody holds it
                return TicketLock(conversation_id)
            if not lock.is_locked(ticket) or nobody_ahead(lock, ticket):
                return lock
            await asyncio.sleep(wait)
            self.update_lock(conversation_id)

    _replace("reliable_lock_waits", LockStore, "_acquire_lock", _acquire_lock)


# --- retried messages answered once ----------------------------------------------------------------


def stored_replies(events: Any, message_id: str) -> list[dict[str, Any]] | None:
    """The bot messages stored after the user message ``message_id``, or None if it is not stored."""
    from rasa.shared.core.events import BotUttered, UserUttered

    replies: list[dict[str, Any]] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break
            if event.message_id == message_id:
                replies = []
        elif replies is not None and isinstance(event, BotUttered):
            replies.append(event.message())
    return replies


def _message_id(message: Any) -> tuple[str | None, bool]:
    metadata = getattr(message, "metadata", None)
    if not isinstance(metadata, dict):
        return None, False
    value = metadata.get(MESSAGE_ID_KEY)
    if not isinstance(value, str) or not value or len(value) > 128:
        return None, False
    return value, bool(metadata.get(RETRY_KEY))


def _idempotent_retries() -> None:
    from rasa.core.agent import Agent

    original = Agent.handle_message

    async def handle_message(self: Agent, message):  # type: ignore[no-untyped-def]
        message_id, retry = _message_id(message)
        if message_id is None:
            return await original(self, message)
        message.message_id = message_id
        if not self.is_ready():
            return await original(self, message)
        # Under the conversation's lock: a copy of the message waits for the first to be
        # stored (or for the lock of a process that died with it to expire), then finds it.
        async with self.lock_store.lock(message.sender_id):
            tracker = await self.tracker_store.retrieve(message.sender_id)
            replies = stored_replies(tracker.events, message_id) if tracker else None
            if replies is None:
                return await self.processor.handle_message(message)
            logger.info("serving.retry.replayed replies=%d flagged=%s", len(replies), retry)
            for reply in replies:
                await message.output_channel.send_response(message.sender_id, reply)
            return getattr(message.output_channel, "messages", None)

    _replace("idempotent_retries", Agent, "handle_message", handle_message)


# --- WebSocket receive on Python 3.11 --------------------------------------------------------------

PINNED_SANIC = "21.12."


def _websocket_receive_tasks() -> None:
    import asyncio

    import sanic
    from sanic.exceptions import ServerError, WebsocketClosed
    from sanic.server.websockets.impl import WebsocketImplProtocol
    from websockets.connection import CLOSED

    if not sanic.__version__.startswith(PINNED_SANIC):
        raise PatchTargetMissing(
            f"websocket_receive: written for Sanic {PINNED_SANIC}x, not {sanic.__version__}: review the fix"
        )

    async def next_message(self: WebsocketImplProtocol, timeout: float | None) -> Any:
        """The assembler's next message, or CancelledError when the connection cancels the receive."""
        cancel = self.recv_cancel = asyncio.get_running_loop().create_future()
        getter = asyncio.ensure_future(self.assembler.get(timeout))
        try:
            await asyncio.wait((cancel, getter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():  # cancelled by the connection, or this receive was given up
                getter.cancel()
            if not cancel.done():
                cancel.cancel()
        if not getter.done() or getter.cancelled():
            raise asyncio.CancelledError()
        return getter.result()

    async def recv(self: WebsocketImplProtocol, timeout: float | None = None) -> Any:
        # Sanic 21.12's recv, except that the assembler's get() runs as a task.
        if self.recv_lock.locked():
            raise ServerError(
                "cannot call recv while another task is already waiting for the next message"
            )
        await self.recv_lock.acquire()
        try:
            if self.connection.state is CLOSED:
                raise WebsocketClosed("Cannot receive from websocket interface after it is closed.")
            return await next_message(self, timeout)
        finally:
            self.recv_cancel = None
            self.recv_lock.release()

    async def recv_burst(self: WebsocketImplProtocol, max_recv: int = 256) -> list[Any]:
        # Sanic 21.12's recv_burst, the same way.
        if self.recv_lock.locked():
            raise ServerError(
                "cannot call recv_burst while another task is already waiting for the next message"
            )
        await self.recv_lock.acquire()
        messages: list[Any] = []
        try:
            if self.connection.state is CLOSED:
                raise WebsocketClosed("Cannot receive from websocket interface after it is closed.")
            self.can_pause = False  # a burst must not pause the transport
            while len(messages) < max_recv:
                message = await next_message(self, 0)
                if message is None:
                    break
                messages.append(message)
                await asyncio.sleep(0)  # let the next message reach the assembler
        finally:
            self.recv_cancel = None
            self.can_pause = True
            self.recv_lock.release()
        return messages

    _replace("websocket_receive", WebsocketImplProtocol, "recv", recv)
    _replace("websocket_receive_burst", WebsocketImplProtocol, "recv_burst", recv_burst)


# --- SQLite in WAL mode ----------------------------------------------------------------------------


def _sqlite_wal() -> None:
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as error:  # e.g. a read-only file: keep Rasa's defaults
            logger.warning("serving.sqlite.pragmas_failed error=%s", error)
        finally:
            cursor.close()

    _listeners["sqlite_wal"] = _pragmas


# --- garbage collection ----------------------------------------------------------------------------


def freeze_after(load: Any) -> Any:
    """``load`` (an async model loader), followed by gc.collect() and gc.freeze()."""
    import gc

    @functools.wraps(load)
    async def load_agent(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        agent = await load(*args, **kwargs)
        gc.collect()
        gc.freeze()
        logger.info("serving.gc.frozen objects=%d", gc.get_freeze_count())
        return agent

    return load_agent


def _freeze_model_objects() -> None:
    import rasa.core.agent as agent_module

    _replace("freeze_model_objects", agent_module, "load_agent", freeze_after(agent_module.load_agent))


def install() -> None:
    """Install every fix once (idempotent)."""
    global _installed
    if _installed:
        return
    check_rasa_version()
    _cached_action_response_validation()
    _cached_event_types()
    _polite_action_failures()
    _idempotent_retries()
    _reliable_lock_waits()
    _websocket_receive_tasks()
    _sqlite_wal()
    _freeze_model_objects()
    _installed = True
