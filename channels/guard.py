"""What every channel's messages pass before Rasa sees them.

``channel_guard(on_new_message, channel)`` wraps the callback Rasa hands a
channel's blueprint (REST, Socket.IO and WeChat use it), so that each message is:

- sanitised (typed "/intent{...}" defused: channels.payloads.sanitize);
- refused with a kind reply when the sender sends too fast (channels.ratelimit)
  or the text is over ``MAX_MESSAGE_CHARS``.

A refused message never reaches Rasa: it is not in the conversation, and
nothing said before is touched. The reply says so and asks to send it again
(shorter). It is answered through the channel's own output like any reply,
so the user gets HTTP 200 / a bot message, never an error.

``channel_guard`` also makes sure logs are masked (privacy.logs) once the
channels start, which is after Rasa has configured structlog.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rasa.core.channels.channel import UserMessage

from channels.payloads import MAX_MESSAGE_CHARS, sanitize
from channels.ratelimit import RateLimiter, make_limiter, sender_key
from privacy import logs as privacy_logs

logger = logging.getLogger(__name__)

RATE_LIMITED_REPLY = (
    "您发得有点快，这条消息我还没来得及看。请稍等几秒钟再发一次。之前说过的内容都还在，不用重新讲。"
)
TOO_LONG_REPLY = (
    f"这条消息太长了（超过 {MAX_MESSAGE_CHARS} 个字），我一次读不完，也没有记下。"
    "请分成几条短一点的消息发给我，好吗？"
)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

_limiter: RateLimiter | None = None


def default_limiter() -> RateLimiter:
    """The process's limiter, shared by all channels (settings from the environment)."""
    global _limiter
    if _limiter is None:
        _limiter = make_limiter()
    return _limiter


async def _reply(message: UserMessage, text: str) -> None:
    try:
        await message.output_channel.send_text_message(message.sender_id, text)
    except Exception as error:
        logger.warning("guard.reply.failed error=%s", type(error).__name__)


async def allowed(who: str, limiter: RateLimiter | None = None) -> bool:
    """The rate limit for ``who`` (a sender_key); a limiter that fails never stops a
    user in distress: the message goes through."""
    try:
        return await (limiter or default_limiter()).allow(who)
    except Exception as error:
        logger.warning("guard.ratelimit.failed error=%s; message let through", type(error).__name__)
        return True


class AtOnce:
    """One sender's uploads in progress in this process: ``with at_once.slot(who,
    limit) as free:``, refusing when ``free`` is False (``limit`` already running)."""

    def __init__(self) -> None:
        self._busy: Counter[str] = Counter()

    @contextmanager
    def slot(self, who: str, limit: int) -> Iterator[bool]:
        if self._busy[who] >= limit:
            yield False
            return
        self._busy[who] += 1
        try:
            yield True
        finally:
            self._busy[who] -= 1
            if self._busy[who] <= 0:
                del self._busy[who]


def channel_guard(on_new_message: OnNewMessage, channel: str) -> OnNewMessage:
    """What a channel's blueprint wraps Rasa's callback in: ``guard`` with the process's
    limiter, and log masking made sure of (Rasa has configured structlog by now)."""
    privacy_logs.install()
    return guard(on_new_message, channel)


def guard(on_new_message: OnNewMessage, channel: str, limiter: RateLimiter | None = None) -> OnNewMessage:
    """``on_new_message`` behind the sanitiser, the rate limit and the length cap."""

    async def guarded(message: UserMessage) -> Any:
        who = sender_key(channel, message.sender_id)
        if not await allowed(who, limiter):
            logger.info("guard.rate_limited channel=%s sender=%s", channel, who)
            await _reply(message, RATE_LIMITED_REPLY)
            return None
        text = message.text if isinstance(message.text, str) else ""
        if len(text.strip()) > MAX_MESSAGE_CHARS:
            logger.info("guard.too_long channel=%s sender=%s chars=%d", channel, who, len(text))
            await _reply(message, TOO_LONG_REPLY)
            return None
        message.text = sanitize(text)
        return await on_new_message(message)

    return guarded


async def read_capped_body(request: Any, limit: int) -> bytes | None:
    """A request's body, or None as soon as it is over ``limit`` bytes (the
    rest is not read): a declared Content-Length is refused before reading."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return None
    if request.stream is None:
        body = request.body or b""
        return body if len(body) <= limit else None
    body = bytearray()
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            break
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
