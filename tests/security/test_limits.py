"""Per-sender rate limit and maximum message length on REST, Socket.IO and
WeChat: a kind Chinese reply (HTTP 200, a bot message), never an error, and
the refused message is not recorded while everything before it stays."""

from __future__ import annotations

import asyncio
import uuid

import requests
import socketio

from channels.guard import RATE_LIMITED_REPLY, TOO_LONG_REPLY
from channels.payloads import MAX_MESSAGE_CHARS
from tests.security.conftest import RATE_BURST, WIDGET_ORIGIN


def test_rest_rate_limit_is_per_sender_kind_and_loses_nothing(servers, sender):
    sent = [f"你好{i}" for i in range(RATE_BURST)]
    for text in sent:
        assert RATE_LIMITED_REPLY not in servers.say(text, sender)
    refused = servers.post("催收天天打我电话", sender)
    assert refused.status_code == 200
    assert [m.get("text") for m in refused.json()] == [RATE_LIMITED_REPLY]
    # Someone else is not slowed down by it.
    assert "安心" in servers.say("你好", f"{sender}-other")
    # The four messages are all there, the refused one is not.
    assert servers.user_texts(sender) == sent


def test_rest_message_over_the_limit_gets_a_kind_reply(servers, sender):
    refused = servers.post("啊" * (MAX_MESSAGE_CHARS + 1), sender, timeout=60)
    assert refused.status_code == 200
    assert [m.get("text") for m in refused.json()] == [TOO_LONG_REPLY]
    # A long, rambling message just within the limit is read like any other.
    rant = ("催收天天打电话骂我还打给我妈" * 200)[:MAX_MESSAGE_CHARS]
    at_limit = servers.post(rant, sender, timeout=60)
    assert at_limit.status_code == 200 and TOO_LONG_REPLY not in at_limit.text
    assert "安心" in servers.say("你好", sender)
    assert servers.user_texts(sender) == [rant, "你好"]


def test_rest_odd_bodies_never_get_a_server_error(servers, sender):
    url = f"{servers.base}/webhooks/rest/webhook"
    for body in (b"", b"not json", b"[1,2]", b'{"sender": "x", "message": {"a": 1}}', b"\xff\xfe"):
        response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert response.status_code < 500, body


class SocketUser:
    """A web-chat user over Socket.IO (polling transport), collecting the bot's messages."""

    def __init__(self, servers, origin: str | None = WIDGET_ORIGIN) -> None:
        self.base = servers.base
        self.origin = origin
        self.session = uuid.uuid4().hex
        self.replies: asyncio.Queue = asyncio.Queue()
        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("bot_uttered", lambda data: self.replies.put_nowait(data.get("text", "")))
        # Over polling, a clean disconnect waits for the pending long poll, which the server
        # holds until its next ping (25 s): leave without waiting, as a closed browser tab does.
        eio, disconnect = self.client.eio, self.client.eio.disconnect

        async def disconnect_now(abort: bool = True, reason=None) -> None:
            await disconnect(abort=True, reason=reason)
            for task in (getattr(eio, "read_loop_task", None), getattr(eio, "write_loop_task", None)):
                if task is not None and not task.done():
                    task.cancel()
            if getattr(eio, "http", None) is not None and not eio.http.closed:
                await eio.http.close()

        eio.disconnect = disconnect_now

    async def __aenter__(self) -> SocketUser:
        confirmed: asyncio.Queue = asyncio.Queue()
        self.client.on("session_confirm", lambda data: confirmed.put_nowait(data))
        headers = {"Origin": self.origin} if self.origin else {}
        await self.client.connect(self.base, headers=headers, transports=["polling"], wait_timeout=15)
        await self.client.emit("session_request", {"session_id": self.session})
        assert await asyncio.wait_for(confirmed.get(), 15) == self.session
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.disconnect()

    async def emit(self, data) -> None:
        await self.client.emit("user_uttered", data)

    async def say(self, message, settle: float = 1.5) -> list[str]:
        """Send; return the bot's messages (the first within 30 s, then any within ``settle`` s)."""
        await self.emit({"message": message, "session_id": self.session})
        replies = [await asyncio.wait_for(self.replies.get(), 30)]
        while True:
            try:
                replies.append(await asyncio.wait_for(self.replies.get(), settle))
            except TimeoutError:
                return replies


async def test_socketio_rate_limit_and_length(servers):
    async with SocketUser(servers) as user:
        sent = [f"你好{i}" for i in range(RATE_BURST - 1)]
        for text in sent:
            assert RATE_LIMITED_REPLY not in await user.say(text)
        assert await user.say("啊" * (MAX_MESSAGE_CHARS + 1)) == [TOO_LONG_REPLY]  # counts as the 4th
        assert await user.say("催收天天打我电话") == [RATE_LIMITED_REPLY]
    assert servers.user_texts(user.session) == sent


async def test_socketio_malformed_events_are_ignored(servers):
    async with SocketUser(servers) as user:
        for data in ("just a string", 42, {"message": {"nested": 1}, "session_id": user.session}):
            await user.emit(data)
        await asyncio.sleep(1)
        replies = await user.say("你好")
    assert any("安心" in reply for reply in replies)


def test_wechat_rate_limit_and_length(servers):
    wechat = servers.wechat()
    sent = [f"你好{i}" for i in range(RATE_BURST - 1)]
    for text in sent:
        result = wechat.text(text)
        assert result.status == 200 and result.content and RATE_LIMITED_REPLY not in result.content
    too_long = wechat.text("啊" * (MAX_MESSAGE_CHARS + 1))
    assert too_long.status == 200 and too_long.content == TOO_LONG_REPLY
    limited = wechat.text("催收天天打我电话")
    assert limited.status == 200 and limited.content == RATE_LIMITED_REPLY
    assert servers.user_texts(wechat.openid) == sent
