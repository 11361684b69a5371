"""Per-sender rate limit: a token bucket per sender.

Each sender may send ``burst`` messages at once, then ``per_minute`` a
minute. Where the count is kept, so that every process answering a sender
sees the same one:

- in Redis when a URL is set (``ANXIN_RATE_REDIS_URL``, else
  ``WECHAT_REDIS_URL``): the scaled profile's processes;
- else in a SQLite file when one is set (``ANXIN_STATE_DB``; scripts/run.sh
  sets ``var/state.db``): the Sanic workers of the embedded profile, which
  share one port, so one sender's messages land on any of them;
- else in memory (one process).

Keys are hashed: no sender IDs (WeChat OpenIDs) are stored. When Redis or
SQLite fails the message is let through: a limiter must never be the reason
a user in distress gets no answer.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

logger = logging.getLogger(__name__)

DEFAULT_BURST = 10
DEFAULT_PER_MINUTE = 30


def sender_key(channel: str, sender: str | None) -> str:
    """A stable, short stand-in for a sender (also used in logs)."""
    raw = f"{channel}:{sender or ''}"
    return hashlib.sha256(raw.encode("utf-8", errors="replace")).hexdigest()[:16]


@dataclass(frozen=True)
class RateSettings:
    burst: int = DEFAULT_BURST
    per_minute: float = DEFAULT_PER_MINUTE
    redis_url: str = ""
    state_db: str = ""

    @property
    def enabled(self) -> bool:
        return self.burst > 0 and self.per_minute > 0

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> RateSettings:
        env = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            try:
                value = float(env.get(name, "") or default)
            except ValueError:
                logger.warning("ratelimit.settings.invalid name=%s; using %s", name, default)
                return default
            return max(value, 0.0)

        return cls(
            burst=int(number("ANXIN_RATE_BURST", DEFAULT_BURST)),
            per_minute=number("ANXIN_RATE_PER_MINUTE", DEFAULT_PER_MINUTE),
            redis_url=(env.get("ANXIN_RATE_REDIS_URL") or env.get("WECHAT_REDIS_URL") or "").strip(),
            state_db=(env.get("ANXIN_STATE_DB") or "").strip(),
        )


class RateLimiter:
    """Interface: ``allow`` is True when the sender may send this message now."""

    async def allow(self, key: str) -> bool:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class NoLimit(RateLimiter):
    async def allow(self, key: str) -> bool:
        return True


class MemoryRateLimiter(RateLimiter):
    """One process's buckets, least recently used dropped first beyond ``max_senders``.

    Safe without locks: ``allow`` runs to completion on the event loop.
    """

    def __init__(self, burst: int, per_minute: float, max_senders: int = 100_000, clock=time.monotonic) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0
        self.max_senders = max_senders
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def allow(self, key: str) -> bool:
        return self.allow_now(key)

    def allow_now(self, key: str) -> bool:
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_senders:
            self._buckets.popitem(last=False)
        return allowed


# KEYS[1] bucket; ARGV: burst, tokens per second, now (s), expiry (ms). Returns 1 when allowed.
_TOKEN_BUCKET = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return allowed
"""


class RedisRateLimiter(RateLimiter):
    """Buckets shared by several processes (wall-clock time, one Lua call per message)."""

    def __init__(self, url: str, burst: int, per_minute: float, prefix: str = "anxin:rate") -> None:
        import redis.asyncio as redis

        self.burst = burst
        self.rate = per_minute / 60.0
        self.prefix = prefix
        self._redis = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_TOKEN_BUCKET)
        # A bucket is full again after burst / rate seconds; keep it no longer.
        self._expiry_ms = max(1000, int(1000 * (burst / self.rate + 1)))

    async def allow(self, key: str) -> bool:
        try:
            result = await self._script(
                keys=[f"{self.prefix}:{key}"], args=[self.burst, self.rate, time.time(), self._expiry_ms]
            )
        except Exception as error:
            logger.warning("ratelimit.redis.unavailable error=%s; message let through", type(error).__name__)
            return True
        return int(result) == 1

    async def close(self) -> None:
        await self._redis.close()


class SqliteRateLimiter(RateLimiter):
    """Buckets shared by the processes of one machine: one short ``BEGIN IMMEDIATE``
    transaction per message in a SQLite file (WAL), wall-clock time."""

    def __init__(self, path: str | os.PathLike, burst: int, per_minute: float, clock=time.time) -> None:
        from pathlib import Path

        self.path = Path(path)
        self.burst = burst
        self.rate = per_minute / 60.0
        self.clock = clock
        self._expiry = burst / self.rate + 1  # a bucket is full again after this long
        self._connection: sqlite3.Connection | None = None
        self._pid = -1
        self._next_purge = 0.0

    def _db(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():  # one connection per process
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=2, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS rate_buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, ts REAL NOT NULL)"
            )
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    async def allow(self, key: str) -> bool:
        try:
            return self.allow_now(key)
        except sqlite3.Error as error:
            logger.warning("ratelimit.sqlite.unavailable error=%s; message let through", type(error).__name__)
            return True

    def allow_now(self, key: str) -> bool:
        db = self._db()
        now = self.clock()
        db.execute("BEGIN IMMEDIATE")
        try:
            if now >= self._next_purge:
                db.execute("DELETE FROM rate_buckets WHERE ts < ?", (now - self._expiry,))
                self._next_purge = now + 60
            row = db.execute("SELECT tokens, ts FROM rate_buckets WHERE key = ?", (key,)).fetchone()
            tokens, last = row if row else (float(self.burst), now)
            tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            db.execute("INSERT OR REPLACE INTO rate_buckets (key, tokens, ts) VALUES (?, ?, ?)", (key, tokens, now))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return allowed

    async def close(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None


def make_limiter(settings: RateSettings | None = None) -> RateLimiter:
    settings = settings or RateSettings.load()
    if not settings.enabled:
        return NoLimit()
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, settings.burst, settings.per_minute)
    if settings.state_db:
        return SqliteRateLimiter(settings.state_db, settings.burst, settings.per_minute)
    return MemoryRateLimiter(settings.burst, settings.per_minute)
