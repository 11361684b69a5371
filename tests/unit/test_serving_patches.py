"""serving/patches.py: the run-time fixes keep Rasa's behaviour."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from types import SimpleNamespace

import pytest
from aiohttp import web
from jsonschema import ValidationError
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from sanic.server.websockets.impl import WebsocketImplProtocol
from sqlalchemy import create_engine, text
from websockets.connection import OPEN
from websockets.frames import Frame, Opcode
from websockets.server import ServerConnection

from serving import patches

patches.install()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_install_is_idempotent():
    validate = RemoteAction._validate_action_result
    patches.install()
    assert RemoteAction._validate_action_result is validate


# --- cached validator ----------------------------------------------------------------------------


def test_valid_action_responses_pass():
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [], "responses": []})
    assert action._validate_action_result(
        {"events": [{"event": "slot", "name": "lender", "value": "webank"}], "responses": [{"text": "好"}]}
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"events": "not a list"},
        {"events": [{"event": "slot", "name": 3}]},
        {"responses": [1, 2]},
        "not an object",
    ],
)
def test_invalid_action_responses_raise_as_before(bad):
    with pytest.raises(ValidationError) as error:
        RemoteAction("action_x", None)._validate_action_result(bad)
    assert "Failed to validate Action server response" in error.value.message


# --- event classes looked up once -----------------------------------------------------------------


def test_event_types_resolve_as_before():
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("bot") is BotUttered
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("user") is UserUttered  # cached
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no-such-event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no-such-event")
    restored = Event.from_parameters({"event": "slot", "name": "lender", "value": "webank"})
    assert restored == SlotSet("lender", "webank")


# --- failed custom actions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 10.0), ("3", 3.0), ("0", 10.0), ("-1", 10.0), ("abc", 10.0), ("2.5", 2.5)],
)
def test_action_timeout_setting(value, expected):
    env = {} if value is None else {"ANXIN_ACTION_TIMEOUT": value}
    assert patches.action_timeout(env) == expected


async def test_apology_is_sent_once_per_message():
    channel = CollectingOutputChannel()
    await patches.apologise_once(channel, "u1")
    await patches.apologise_once(channel, "u1")
    assert [m["text"] for m in channel.messages] == [patches.ACTION_FAILED_REPLY]
    assert "稍后再试" in patches.ACTION_FAILED_REPLY and "110" in patches.ACTION_FAILED_REPLY


def _tracker(sender: str = "u1") -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen"), UserUttered("你好")])


async def _run_remote(url: str) -> tuple[CollectingOutputChannel, BaseException | None]:
    domain = Domain.empty()
    action = RemoteAction("action_where_to_complain", EndpointConfig(url))
    channel = CollectingOutputChannel()
    try:
        await action.run(channel, TemplatedNaturalLanguageGenerator({}), _tracker(), domain)
    except BaseException as error:  # noqa: BLE001 - the test inspects it
        return channel, error
    return channel, None


async def test_action_server_down_gets_a_polite_reply_and_rasa_sees_the_failure():
    channel, error = await _run_remote(f"http://127.0.0.1:{free_port()}/webhook")
    assert isinstance(error, RasaException)  # Rasa still drops the action's events, as before
    assert [m["text"] for m in channel.messages] == [patches.ACTION_FAILED_REPLY]


async def _serve(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/webhook"


async def test_rejection_is_not_a_failure():
    async def reject(_request):
        return web.json_response({"action_name": "action_where_to_complain", "error": "no"}, status=400)

    runner, url = await _serve(reject)
    try:
        channel, error = await _run_remote(url)
    finally:
        await runner.cleanup()
    assert isinstance(error, ActionExecutionRejection)
    assert channel.messages == []


async def test_server_error_gets_the_polite_reply():
    async def fail(_request):
        return web.Response(status=500, text="boom")

    runner, url = await _serve(fail)
    try:
        channel, error = await _run_remote(url)
    finally:
        await runner.cleanup()
    assert isinstance(error, RasaException)
    assert [m["text"] for m in channel.messages] == [patches.ACTION_FAILED_REPLY]


async def test_working_action_is_unchanged():
    async def ok(_request):
        return web.json_response({"events": [{"event": "slot", "name": "lender", "value": "webank"}], "responses": [{"text": "好的"}]})

    runner, url = await _serve(ok)
    try:
        channel, error = await _run_remote(url)
    finally:
        await runner.cleanup()
    assert error is None
    assert channel.messages == []  # responses become BotUttered events, sent by the processor


# --- retried messages answered once ---------------------------------------------------------------


def test_stored_replies_are_the_bot_messages_after_the_message():
    events = [
        UserUttered("你好", message_id="m1"),
        BotUttered("您好"),
        ActionExecuted("action_listen"),
        UserUttered("借呗", message_id="m2"),
        BotUttered("花呗、借呗的放款方是…", data={"buttons": [{"title": "1", "payload": "1"}]}),
        BotUttered("下一步…"),
        ActionExecuted("action_listen"),
        UserUttered("谢谢", message_id="m3"),
    ]
    assert [r["text"] for r in patches.stored_replies(events, "m1")] == ["您好"]
    replies = patches.stored_replies(events, "m2")
    assert [r["text"] for r in replies] == ["花呗、借呗的放款方是…", "下一步…"]
    assert replies[0]["buttons"] == [{"title": "1", "payload": "1"}]
    assert patches.stored_replies(events, "m3") == []
    assert patches.stored_replies(events, "never-seen") is None


class _Processor:
    def __init__(self, store: InMemoryTrackerStore) -> None:
        self.store = store
        self.handled: list[str] = []

    async def handle_message(self, message: UserMessage):
        self.handled.append(message.text)
        tracker = await self.store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, message_id=message.message_id))
        tracker.update(BotUttered(f"回答：{message.text}"))
        await self.store.save(tracker)
        await message.output_channel.send_text_message(message.sender_id, f"回答：{message.text}")
        return message.output_channel.messages


def _agent() -> SimpleNamespace:
    store = InMemoryTrackerStore(Domain.empty())
    return SimpleNamespace(
        is_ready=lambda: True,
        lock_store=InMemoryLockStore(),
        tracker_store=store,
        processor=_Processor(store),
    )


def _message(text: str, metadata: dict | None) -> UserMessage:
    return UserMessage(text, CollectingOutputChannel(), "u1", metadata=metadata)


async def test_a_retry_of_a_stored_message_gets_the_stored_answer():
    agent = _agent()
    first = await Agent.handle_message(agent, _message("借呗", {"message_id": "abc"}))
    again = await Agent.handle_message(agent, _message("借呗", {"message_id": "abc", "retry": True}))
    assert agent.processor.handled == ["借呗"]  # processed once
    assert [m["text"] for m in first] == [m["text"] for m in again] == ["回答：借呗"]


async def test_a_copy_without_the_retry_flag_gets_the_stored_answer_too():
    # nginx sends a request again, same message id, and cannot say it is a retry.
    agent = _agent()
    first = await Agent.handle_message(agent, _message("借呗", {"message_id": "abc"}))
    again = await Agent.handle_message(agent, _message("借呗", {"message_id": "abc"}))
    assert agent.processor.handled == ["借呗"]
    assert [m["text"] for m in first] == [m["text"] for m in again] == ["回答：借呗"]
    tracker = await agent.tracker_store.retrieve("u1")
    assert [e.message_id for e in tracker.events if isinstance(e, UserUttered)] == ["abc"]


async def test_a_retry_of_a_message_never_stored_is_processed():
    agent = _agent()
    replies = await Agent.handle_message(agent, _message("借呗", {"message_id": "new", "retry": True}))
    assert agent.processor.handled == ["借呗"]
    assert [m["text"] for m in replies] == ["回答：借呗"]


async def test_messages_with_new_ids_are_processed_and_keep_their_id():
    agent = _agent()
    await Agent.handle_message(agent, _message("你好", {"message_id": "m-1"}))
    await Agent.handle_message(agent, _message("你好", {"message_id": "m-2"}))
    tracker = await agent.tracker_store.retrieve("u1")
    assert agent.processor.handled == ["你好", "你好"]
    assert [e.message_id for e in tracker.events if isinstance(e, UserUttered)] == ["m-1", "m-2"]


async def test_messages_without_an_id_are_always_processed():
    agent = _agent()
    await Agent.handle_message(agent, _message("你好", None))
    await Agent.handle_message(agent, _message("你好", {"retry": True}))
    assert agent.processor.handled == ["你好", "你好"]


@pytest.mark.parametrize("flags", [(True, True, True), (False, False, False), (False, True, False)])
async def test_concurrent_copies_are_processed_once(flags):
    agent = _agent()
    metadata = [{"message_id": "x", "retry": True} if flag else {"message_id": "x"} for flag in flags]
    results = await asyncio.gather(*(Agent.handle_message(agent, _message("借呗", m)) for m in metadata))
    assert agent.processor.handled == ["借呗"]
    assert all([m["text"] for m in r] == ["回答：借呗"] for r in results)


# --- SQLite --------------------------------------------------------------------------------------


def test_sqlite_engines_use_wal(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    engine.dispose()
    with sqlite3.connect(tmp_path / "tracker.db") as raw:  # persistent in the file
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- conversation locks --------------------------------------------------------------------------


async def test_a_lock_held_by_a_dead_process_is_taken_over_after_its_lifetime():
    store = InMemoryLockStore()
    store.issue_ticket("c1", lock_lifetime=0.3)  # a process that died holding the lock
    start = asyncio.get_running_loop().time()
    # The waiter's own ticket expires at almost the same moment; Rasa 3.6 then waits forever.
    async with store.lock("c1", lock_lifetime=0.35):
        waited = asyncio.get_running_loop().time() - start
    assert 0.25 < waited < 2


async def test_locks_still_serialise_one_conversation():
    store = InMemoryLockStore()
    order: list[str] = []

    async def hold(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with store.lock("c2"):
            order.append(f"{name}+")
            await asyncio.sleep(0.2)
            order.append(f"{name}-")

    await asyncio.gather(hold("a", 0), hold("b", 0.05), hold("c", 0.1))
    assert order == ["a+", "a-", "b+", "b-", "c+", "c-"]


async def test_a_second_message_waits_less_than_a_second():
    store = InMemoryLockStore()
    times: list[float] = []
    loop = asyncio.get_running_loop()

    async def hold() -> None:
        async with store.lock("c3"):
            times.append(loop.time())
            await asyncio.sleep(0.05)

    await asyncio.gather(hold(), hold())
    assert times[1] - times[0] < 0.5


# --- garbage collection --------------------------------------------------------------------------


async def test_loaded_models_are_frozen_out_of_garbage_collection(monkeypatch):
    import gc

    import rasa.core.agent as agent_module

    assert agent_module.load_agent.__wrapped__ is not None  # installed where rasa.core.run calls it
    sentinel, calls = object(), []

    async def fake_load(*args, **kwargs):
        calls.append((args, kwargs))
        return sentinel

    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    assert await patches.freeze_after(fake_load)("model.tar.gz", endpoints=None) is sentinel
    assert calls == [(("model.tar.gz",), {"endpoints": None}), "freeze"]


# --- the fixes fail loudly -----------------------------------------------------------------------

EXPECTED_FIXES = {
    "cached_action_validation",
    "cached_event_types",
    "action_timeout",
    "polite_action_failures",
    "idempotent_retries",
    "reliable_lock_waits",
    "websocket_receive",
    "websocket_receive_burst",
    "sqlite_wal",
    "freeze_model_objects",
}


# --- WebSocket receive on Python 3.11 ------------------------------------------------------------


def websocket() -> WebsocketImplProtocol:
    """Sanic's server side of an open WebSocket, without a network: frames are put in by hand."""
    return WebsocketImplProtocol(ServerConnection(state=OPEN))


def assembler_readers() -> list[asyncio.Task]:
    """Tasks still waiting in a WebSocket's frame assembler (a reader left behind takes the next message)."""
    return [t for t in asyncio.all_tasks() if not t.done() and "WebsocketFrameAssembler.get" in repr(t)]


def text_frame(text: str) -> Frame:
    return Frame(Opcode.TEXT, text.encode())


async def test_websocket_receive_gets_the_next_message():
    # Sanic 21.12 as shipped: "TypeError: Passing coroutines is forbidden" on Python 3.11.
    ws = websocket()
    put = asyncio.ensure_future(ws.assembler.put(text_frame('42["user_uttered",{"message":"你好"}]')))
    assert await asyncio.wait_for(ws.recv(), 5) == '42["user_uttered",{"message":"你好"}]'
    await asyncio.wait_for(put, 5)
    assert ws.recv_cancel is None and not ws.recv_lock.locked()


async def test_websocket_receive_times_out_with_none():
    ws = websocket()
    assert await asyncio.wait_for(ws.recv(timeout=0.05), 5) is None
    assert not ws.recv_lock.locked()


async def test_websocket_receive_is_cancelled_when_the_connection_closes():
    ws = websocket()
    receiving = asyncio.ensure_future(ws.recv())
    await asyncio.sleep(0.05)
    ws.recv_cancel.cancel()  # what Sanic does when the client's close frame or connection loss arrives
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(receiving, 5)
    assert not ws.recv_lock.locked()
    await asyncio.sleep(0)
    assert not assembler_readers()


async def test_a_given_up_receive_leaves_no_reader_behind():
    # Engine.IO gives up a receive after its ping timeout; the assembler's reader must go too.
    ws = websocket()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.05)
    await asyncio.sleep(0)
    assert not assembler_readers()


async def test_websocket_receive_burst_gets_what_has_arrived():
    ws = websocket()
    put = asyncio.ensure_future(ws.assembler.put(text_frame("2")))
    await asyncio.sleep(0)
    assert await asyncio.wait_for(ws.recv_burst(), 5) == ["2"]
    await asyncio.wait_for(put, 5)
    assert await asyncio.wait_for(ws.recv_burst(), 5) == []
    assert ws.can_pause and not ws.recv_lock.locked()


def test_another_sanic_is_refused(monkeypatch):
    import sanic

    monkeypatch.setattr(sanic, "__version__", "22.12.0")
    with pytest.raises(patches.PatchTargetMissing, match="Sanic"):
        patches._websocket_receive_tasks()
    monkeypatch.undo()
    assert all(patches.in_effect().values())


def test_every_fix_is_in_effect():
    effect = patches.in_effect()
    assert set(effect) == EXPECTED_FIXES
    assert all(effect.values()), [fix for fix, ok in effect.items() if not ok]


def test_another_rasa_version_is_refused():
    patches.check_rasa_version(patches.PINNED_RASA)
    with pytest.raises(RuntimeError, match="3.6.21"):
        patches.check_rasa_version("3.7.0")


def test_a_missing_target_fails_loudly():
    owner = SimpleNamespace()
    with pytest.raises(patches.PatchTargetMissing, match="gone"):
        patches._replace("probe_fix", owner, "gone", lambda: None)
    assert "probe_fix" not in patches.in_effect()
