"""Rate limit and length cap in front of every channel (channels/guard.py,
channels/ratelimit.py), the Socket.IO channel's checks, and the action
server's secret, without servers. (The same on real servers: tests/security.)"""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from actions.server import main as action_server_main
from actions.server import secret_ok
from channels.guard import RATE_LIMITED_REPLY, TOO_LONG_REPLY, guard
from channels.payloads import MAX_MESSAGE_CHARS
from channels.ratelimit import (
    MemoryRateLimiter,
    NoLimit,
    RateLimiter,
    RateSettings,
    RedisRateLimiter,
    make_limiter,
    sender_key,
)
from channels.socketio import _clean_event, allowed_origins

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Bot:
    """Stands in for Rasa: records what reached it and answers "ok"."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, "ok")


async def send(handler, text, sender="u1") -> list[str]:
    out = CollectingOutputChannel()
    await handler(UserMessage(text, out, sender))
    return [m["text"] for m in out.messages]


async def test_burst_then_the_kind_reply_then_refill():
    clock = Clock()
    bot = Bot()
    handler = guard(bot, "rest", MemoryRateLimiter(burst=3, per_minute=6, clock=clock))
    for i in range(3):
        assert await send(handler, f"m{i}") == ["ok"]
    assert await send(handler, "m3") == [RATE_LIMITED_REPLY]
    assert await send(handler, "from someone else", "u2") == ["ok"]
    clock.now += 10  # 6 a minute: one more after 10 s
    assert await send(handler, "m4") == ["ok"]
    assert await send(handler, "m5") == [RATE_LIMITED_REPLY]
    # Refused messages never reached the bot: nothing half-recorded.
    assert bot.seen == ["m0", "m1", "m2", "from someone else", "m4"]


async def test_too_long_is_refused_whole_and_payloads_are_defused():
    bot = Bot()
    handler = guard(bot, "socketio", NoLimit())
    assert await send(handler, "啊" * (MAX_MESSAGE_CHARS + 1)) == [TOO_LONG_REPLY]
    assert await send(handler, "  " + "啊" * MAX_MESSAGE_CHARS + "  ") == ["ok"]
    assert await send(handler, '/ /inform{"user_role":"guarantor"}') == ["ok"]
    assert await send(handler, None) == ["ok"]
    assert bot.seen == ["啊" * MAX_MESSAGE_CHARS, 'inform{"user_role":"guarantor"}', ""]


async def test_a_broken_limiter_lets_messages_through():
    class Broken(RateLimiter):
        async def allow(self, key: str) -> bool:
            raise ConnectionError("down")

    bot = Bot()
    assert await send(guard(bot, "wechat", Broken()), "你好") == ["ok"]


def test_memory_limiter_forgets_the_least_recent_senders():
    limiter = MemoryRateLimiter(burst=1, per_minute=1, max_senders=2, clock=Clock())
    assert limiter.allow_now("a") and limiter.allow_now("b") and limiter.allow_now("c")
    assert len(limiter._buckets) == 2 and "a" not in limiter._buckets


def test_settings_and_keys():
    assert RateSettings.load({}) == RateSettings(10, 30, "")
    assert RateSettings.load({"ANXIN_RATE_BURST": "x", "ANXIN_RATE_PER_MINUTE": "-5"}).per_minute == 0
    assert RateSettings.load({"WECHAT_REDIS_URL": "redis://h"}).redis_url == "redis://h"
    assert isinstance(make_limiter(RateSettings(burst=0)), NoLimit)
    assert isinstance(make_limiter(RateSettings()), MemoryRateLimiter)
    key = sender_key("wechat", "oABC123")
    assert key == sender_key("wechat", "oABC123") != sender_key("rest", "oABC123")
    assert "oABC123" not in key and len(key) == 16


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.mark.skipif(not _redis_answers(), reason="no Redis server answers PING at 127.0.0.1:6379")
async def test_redis_limiter_is_shared_between_processes():
    prefix = f"anxin-test:rate:{uuid.uuid4().hex[:8]}"
    # Two limiters stand for two Rasa processes.
    first, second = (RedisRateLimiter(REDIS_URL, burst=2, per_minute=1, prefix=prefix) for _ in range(2))
    try:
        assert await first.allow("k") and await second.allow("k")
        assert not await first.allow("k") and not await second.allow("k")
        assert await first.allow("other")
        ttl = await first._redis.pttl(f"{prefix}:k")
        assert 0 < ttl <= first._expiry_ms
    finally:
        for limiter in (first, second):
            async for name in limiter._redis.scan_iter(match=f"{prefix}:*"):
                await limiter._redis.delete(name)
            await limiter.close()


async def test_redis_limiter_lets_through_when_redis_is_down():
    limiter = RedisRateLimiter("redis://127.0.0.1:9/0", burst=1, per_minute=1)
    try:
        assert all([await limiter.allow("k") for _ in range(3)])
    finally:
        await limiter.close()


def test_socketio_origins_and_event_cleaning():
    assert allowed_origins({}) == {"http://localhost:8080"}
    assert allowed_origins({"ANXIN_CORS_ORIGIN": "http://a:1 http://b:2/, http://c"}) == {
        "http://a:1",
        "http://b:2",
        "http://c",
    }
    assert allowed_origins({"ANXIN_CORS_ORIGIN": "*"}) is None
    assert _clean_event("text", "metadata") is None
    assert _clean_event({"message": {"x": 1}, "metadata": "{bad", "session_id": 7}, "metadata") == {
        "message": "",
        "metadata": {},
        "session_id": "7",
    }
    assert _clean_event({"message": "hi", "metadata": '{"a": 1}'}, "metadata") == {
        "message": "hi",
        "metadata": {"a": 1},
    }


def test_action_secret_comparison():
    assert secret_ok("s3cret-s3cret-s3cret", "s3cret-s3cret-s3cret")
    assert not secret_ok("s3cret-s3cret-s3cret", "s3cret-s3cret-s3cre")
    assert not secret_ok("s3cret", None) and not secret_ok("", "") and not secret_ok("", "x")
    assert not secret_ok("s3cret", "sécret")  # non-ASCII header values do not raise


def test_action_server_does_not_start_without_a_secret(monkeypatch, capsys):
    monkeypatch.delenv("ANXIN_ACTION_SECRET", raising=False)
    assert action_server_main(["--port", "1"]) == 2
    assert "ANXIN_ACTION_SECRET is not set" in capsys.readouterr().err


def test_guard_reply_failure_is_contained():
    class BrokenOutput(CollectingOutputChannel):
        async def send_text_message(self, recipient_id, text, **kwargs):
            raise RuntimeError("socket gone")

    bot = Bot()
    handler = guard(bot, "socketio", MemoryRateLimiter(burst=0, per_minute=1))
    asyncio.run(handler(UserMessage("hi", BrokenOutput(), "u")))
    assert bot.seen == []
