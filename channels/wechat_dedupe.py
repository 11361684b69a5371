"""Which WeChat deliveries were already seen, and the replies made for them.

WeChat sends a message again (same MsgId) when it has no answer within 5 s,
up to three times. Each key (a MsgId, or sender + time for events) goes
through three steps, each claimed once:

1. ``claim``: the first delivery starts processing; retries do not.
2. ``finish``: the reply chunks are stored, for retries to pick up.
3. ``claim_delivery``: the first of "passive" (an HTTP reply) and "push"
   (the customer-service API) wins, so the user never gets the reply twice.

Entries expire after ``ttl`` seconds (WeChat's retries are over after ~15 s).
In-memory by default (one process); Redis when several processes share the
webhook. The access token of the customer-service API is kept here too, so
that processes share one instead of invalidating each other's.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_TTL = 60.0


class DedupeStore:
    """Interface of the stores; all methods are coroutines."""

    ttl: float = DEFAULT_TTL

    async def claim(self, key: str) -> bool:
        """True for the first caller with ``key`` (it must process the message)."""
        raise NotImplementedError

    async def finish(self, key: str, chunks: list[str]) -> None:
        raise NotImplementedError

    async def result(self, key: str) -> list[str] | None:
        """The stored reply chunks, or None while still processing (or unknown)."""
        raise NotImplementedError

    async def claim_delivery(self, key: str, how: str) -> tuple[str, bool]:
        """Record that the reply goes out ``how``; returns (how it goes out, whether this call decided)."""
        raise NotImplementedError

    async def get_token(self) -> str | None:
        raise NotImplementedError

    async def set_token(self, token: str, ttl: float) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


@dataclass
class _Entry:
    expires: float
    chunks: list[str] | None = None
    delivered: str | None = None


class MemoryDedupeStore(DedupeStore):
    """One process's store: an insertion-ordered dict with lazy expiry.

    Safe without locks because every method runs to completion on the event
    loop without awaiting anything.
    """

    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._token: tuple[str, float] | None = None

    def _purge(self) -> None:
        now = time.monotonic()
        # Entries are created in time order with one ttl, so expired ones are at the front.
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.expires > now and len(self._entries) <= self.max_entries:
                break
            del self._entries[key]

    def _get(self, key: str) -> _Entry | None:
        self._purge()
        return self._entries.get(key)

    def _get_or_create(self, key: str) -> _Entry:
        entry = self._get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(expires=time.monotonic() + self.ttl)
        return entry

    async def claim(self, key: str) -> bool:
        if self._get(key) is not None:
            return False
        self._get_or_create(key)
        return True

    async def finish(self, key: str, chunks: list[str]) -> None:
        self._get_or_create(key).chunks = list(chunks)

    async def result(self, key: str) -> list[str] | None:
        entry = self._get(key)
        return None if entry is None or entry.chunks is None else list(entry.chunks)

    async def claim_delivery(self, key: str, how: str) -> tuple[str, bool]:
        entry = self._get_or_create(key)
        if entry.delivered is None:
            entry.delivered = how
            return how, True
        return entry.delivered, False

    async def get_token(self) -> str | None:
        if self._token and self._token[1] > time.monotonic():
            return self._token[0]
        return None

    async def set_token(self, token: str, ttl: float) -> None:
        self._token = (token, time.monotonic() + ttl)


class RedisDedupeStore(DedupeStore):
    """Shared store for several processes (``WECHAT_REDIS_URL``).

    Claims are ``SET NX`` with an expiry, so exactly one process wins each,
    and a process that dies mid-way frees its keys after ``ttl``.
    """

    def __init__(self, url: str, ttl: float = DEFAULT_TTL, prefix: str = "anxin:wechat") -> None:
        import redis.asyncio as redis

        self.ttl = ttl
        self.prefix = prefix
        self._redis = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def _key(self, key: str, part: str) -> str:
        return f"{self.prefix}:{key}:{part}"

    @property
    def _ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    async def claim(self, key: str) -> bool:
        return bool(await self._redis.set(self._key(key, "claim"), "1", nx=True, px=self._ms))

    async def finish(self, key: str, chunks: list[str]) -> None:
        await self._redis.set(self._key(key, "reply"), json.dumps(chunks, ensure_ascii=False), px=self._ms)

    async def result(self, key: str) -> list[str] | None:
        raw = await self._redis.get(self._key(key, "reply"))
        return None if raw is None else json.loads(raw)

    async def claim_delivery(self, key: str, how: str) -> tuple[str, bool]:
        name = self._key(key, "delivered")
        if await self._redis.set(name, how, nx=True, px=self._ms):
            return how, True
        current = await self._redis.get(name)
        return (current.decode() if current else how), False

    async def get_token(self) -> str | None:
        raw = await self._redis.get(f"{self.prefix}:access_token")
        return raw.decode() if raw else None

    async def set_token(self, token: str, ttl: float) -> None:
        await self._redis.set(f"{self.prefix}:access_token", token, px=max(1, int(ttl * 1000)))

    async def close(self) -> None:
        await self._redis.close()


def make_store(redis_url: str | None, ttl: float = DEFAULT_TTL, prefix: str = "anxin:wechat") -> DedupeStore:
    """Redis when a URL is given, else in-memory."""
    if redis_url:
        return RedisDedupeStore(redis_url, ttl=ttl, prefix=prefix)
    return MemoryDedupeStore(ttl=ttl)
