"""Which WeChat deliveries were already seen, and the replies made for them.

WeChat sends a message again (same MsgId) when it has no answer within 5 s,
up to three times. Each key (a MsgId, or sender + time for events) goes
through three steps, each claimed once:

1. ``claim``: the first delivery starts processing; retries do not.
2. ``finish``: the reply chunks are stored, for retries to pick up.
3. ``claim_delivery``: the first of "passive" (an HTTP reply) and "push"
   (the customer-service API) wins, so the user never gets the reply twice.

Entries expire after ``ttl`` seconds (WeChat's retries are over after ~15 s).

**A claim does not outlive its process.** Until ``finish``, a claim is a
lease of ``lease`` seconds (``CLAIM_LEASE``) that the claiming process renews
every ``lease / 3`` seconds. A process that dies while answering stops
renewing, so its claim lapses within ``lease`` seconds (in the SQLite store at
once: the claim names its process, and a claim whose process is gone is
void), and the next retry of the message is claimed, and answered, by another
process instead of waiting for an answer that never comes. Answering twice is
not possible even so: the message's MsgId is stored with it in the
conversation, and Rasa does not process a message whose id it already holds
(serving/patches.py) but sends the reply it stored.

Three stores, one interface:

- ``MemoryDedupeStore``: one process (the default when nothing else is set);
- ``SqliteDedupeStore``: the processes of one machine, in one SQLite file
  (``ANXIN_STATE_DB``; scripts/run.sh sets ``var/state.db`` in the embedded
  profile, whose Rasa runs several Sanic workers);
- ``RedisDedupeStore``: processes anywhere (``WECHAT_REDIS_URL``; the scaled
  profile).

The access token of the customer-service API is kept here too, so that
processes share one instead of invalidating each other's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_TTL = 60.0
CLAIM_LEASE = 3.0  # seconds a claim lives without renewal (renewed every third of it)
STATE_DB_ENV = "ANXIN_STATE_DB"


class DedupeStore:
    """Interface of the stores; all methods are coroutines."""

    ttl: float = DEFAULT_TTL
    lease: float = CLAIM_LEASE

    async def claim(self, key: str) -> bool:
        """True for the first caller with ``key`` (it must process the message), and for a
        caller that finds the claim of a process that died (or stopped renewing it)."""
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


class _Leases:
    """Renews this process's open claims every ``lease / 3`` s until ``finish`` (at most ``ttl``)."""

    def __init__(self) -> None:
        self._renewals: dict[str, asyncio.Task] = {}

    def _start_renewal(self, key: str, owner: str) -> None:
        self._stop_renewal(key)
        task = asyncio.get_running_loop().create_task(self._renew_loop(key, owner))
        self._renewals[key] = task
        task.add_done_callback(lambda done, k=key: self._renewals.get(k) is done and self._renewals.pop(k))

    def _stop_renewal(self, key: str) -> None:
        task = self._renewals.pop(key, None)
        if task is not None:
            task.cancel()

    async def _renew_loop(self, key: str, owner: str) -> None:
        deadline = time.monotonic() + self.ttl  # type: ignore[attr-defined]
        while time.monotonic() < deadline:
            await asyncio.sleep(self.lease / 3)  # type: ignore[attr-defined]
            try:
                if not await self._renew(key, owner):
                    return  # finished, or taken over after all
            except Exception as error:
                logger.warning("wechat.dedupe.renew_failed error=%s", type(error).__name__)

    async def _renew(self, key: str, owner: str) -> bool:
        raise NotImplementedError

    def _stop_all(self) -> None:
        for task in self._renewals.values():
            task.cancel()
        self._renewals.clear()


@dataclass
class _Entry:
    expires: float
    chunks: list[str] | None = None
    delivered: str | None = None


class MemoryDedupeStore(DedupeStore):
    """One process's store: an insertion-ordered dict with lazy expiry.

    Safe without locks because every method runs to completion on the event
    loop without awaiting anything. Its claims die with the process anyway.
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


# --- one machine: SQLite -------------------------------------------------------------------------


def process_tag(pid: int | None = None) -> str | None:
    """``pid:start time`` of a live process (the start time tells a reused pid apart), or None."""
    pid = os.getpid() if pid is None else pid
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return f"{pid}:{stat.rsplit(')', 1)[1].split()[19]}"
    except FileNotFoundError:
        return None
    except (OSError, IndexError):  # no /proc: the pid alone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return f"{pid}:?"


def owner_alive(owner: str) -> bool:
    pid, _, _ = owner.partition(":")
    tag = process_tag(int(pid)) if pid.isdigit() else None
    return tag is not None and (tag == owner or tag.endswith(":?"))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS wechat_dedupe (
    key TEXT PRIMARY KEY,
    owner TEXT,            -- pid:start time of the claiming process, until finished
    lease_until REAL,      -- the claim lapses then unless renewed
    expires REAL NOT NULL, -- the whole entry is forgotten then
    chunks TEXT,           -- the reply (JSON), once finished
    delivered TEXT
);
CREATE TABLE IF NOT EXISTS wechat_token (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires REAL NOT NULL);
"""


class SqliteDedupeStore(_Leases, DedupeStore):
    """The processes of one machine share one SQLite file (WAL; each step one short
    ``BEGIN IMMEDIATE`` transaction, wall-clock times).

    A claim names its process; another process may take it over when that process is
    gone (checked in /proc) or its lease lapsed (it stopped renewing: hung or dead).
    """

    def __init__(
        self, path: str | os.PathLike, ttl: float = DEFAULT_TTL, prefix: str = "anxin:wechat", lease: float = CLAIM_LEASE
    ) -> None:
        _Leases.__init__(self)
        self.path = Path(path)
        self.ttl = ttl
        self.lease = lease
        self.prefix = prefix
        self._connection: sqlite3.Connection | None = None
        self._pid = -1
        self._owner = ""
        self._next_purge = 0.0

    def _db(self) -> sqlite3.Connection:
        # One connection per process, opened in it (a store made before Sanic forks its
        # workers must not share its parent's connection).
        if self._connection is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            self._connection, self._pid = connection, os.getpid()
            self._owner = process_tag() or f"{os.getpid()}:?"
            self._renewals = {}
        return self._connection

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def _transaction(self, work):  # type: ignore[no-untyped-def]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db, time.time())
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    def _purge(self, db: sqlite3.Connection, now: float) -> None:
        if now >= self._next_purge:
            db.execute("DELETE FROM wechat_dedupe WHERE expires < ?", (now,))
            self._next_purge = now + min(self.ttl, 30.0)

    async def claim(self, key: str) -> bool:
        name = self._key(key)

        def work(db: sqlite3.Connection, now: float) -> bool:
            self._purge(db, now)
            row = db.execute(
                "SELECT owner, lease_until, expires, chunks FROM wechat_dedupe WHERE key = ?", (name,)
            ).fetchone()
            if row is not None and row[2] >= now:
                owner, lease_until, _, chunks = row
                if chunks is not None or owner is None:
                    return False  # answered (or being answered and finished meanwhile)
                if lease_until >= now and owner_alive(owner):
                    return False
                logger.info("wechat.dedupe.claim_taken_over owner_alive=%s", owner_alive(owner))
                db.execute(
                    "UPDATE wechat_dedupe SET owner = ?, lease_until = ? WHERE key = ?",
                    (self._owner, now + self.lease, name),
                )
                return True
            db.execute(
                "INSERT OR REPLACE INTO wechat_dedupe (key, owner, lease_until, expires) VALUES (?, ?, ?, ?)",
                (name, self._owner, now + self.lease, now + self.ttl),
            )
            return True

        won = self._transaction(work)
        if won:
            self._start_renewal(key, self._owner)
        return won

    async def _renew(self, key: str, owner: str) -> bool:
        def work(db: sqlite3.Connection, now: float) -> bool:
            cursor = db.execute(
                "UPDATE wechat_dedupe SET lease_until = ? WHERE key = ? AND owner = ? AND chunks IS NULL",
                (now + self.lease, self._key(key), owner),
            )
            return cursor.rowcount == 1

        return self._transaction(work)

    async def finish(self, key: str, chunks: list[str]) -> None:
        self._stop_renewal(key)
        text = json.dumps(list(chunks), ensure_ascii=False)

        def work(db: sqlite3.Connection, now: float) -> None:
            db.execute(
                "INSERT INTO wechat_dedupe (key, owner, lease_until, expires, chunks) VALUES (?, NULL, 0, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET owner = NULL, lease_until = 0, expires = excluded.expires, "
                "chunks = excluded.chunks",
                (self._key(key), now + self.ttl, text),
            )

        self._transaction(work)

    async def result(self, key: str) -> list[str] | None:
        row = self._db().execute(
            "SELECT chunks FROM wechat_dedupe WHERE key = ? AND expires >= ?", (self._key(key), time.time())
        ).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])

    async def claim_delivery(self, key: str, how: str) -> tuple[str, bool]:
        name = self._key(key)

        def work(db: sqlite3.Connection, now: float) -> tuple[str, bool]:
            row = db.execute(
                "SELECT delivered FROM wechat_dedupe WHERE key = ? AND expires >= ?", (name, now)
            ).fetchone()
            if row is not None and row[0]:
                return row[0], False
            if row is None:
                db.execute(
                    "INSERT OR REPLACE INTO wechat_dedupe (key, owner, lease_until, expires, delivered) "
                    "VALUES (?, NULL, 0, ?, ?)",
                    (name, now + self.ttl, how),
                )
            else:
                db.execute("UPDATE wechat_dedupe SET delivered = ? WHERE key = ?", (how, name))
            return how, True

        return self._transaction(work)

    async def get_token(self) -> str | None:
        row = self._db().execute(
            "SELECT token FROM wechat_token WHERE name = ? AND expires > ?", (self.prefix, time.time())
        ).fetchone()
        return row[0] if row else None

    async def set_token(self, token: str, ttl: float) -> None:
        self._transaction(
            lambda db, now: db.execute(
                "INSERT OR REPLACE INTO wechat_token (name, token, expires) VALUES (?, ?, ?)",
                (self.prefix, token, now + ttl),
            )
        )

    async def close(self) -> None:
        self._stop_all()
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None


# --- anywhere: Redis -----------------------------------------------------------------------------

# KEYS[1] the claim; ARGV: owner, lease (ms). Renews the lease while the owner still holds it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisDedupeStore(_Leases, DedupeStore):
    """Shared store for several processes (``WECHAT_REDIS_URL``).

    Claims are ``SET NX`` with the lease as expiry (renewed by the owner while it
    answers), so exactly one process wins each, and a process that dies mid-way
    frees its claim within ``lease`` seconds. ``finish`` marks the claim done for
    ``ttl``.
    """

    def __init__(
        self, url: str, ttl: float = DEFAULT_TTL, prefix: str = "anxin:wechat", lease: float = CLAIM_LEASE
    ) -> None:
        import redis.asyncio as redis

        _Leases.__init__(self)
        self.ttl = ttl
        self.lease = lease
        self.prefix = prefix
        self._redis = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._renew_script = self._redis.register_script(_RENEW)

    def _key(self, key: str, part: str) -> str:
        return f"{self.prefix}:{key}:{part}"

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(1, int(seconds * 1000))

    async def claim(self, key: str) -> bool:
        owner = uuid.uuid4().hex
        won = bool(await self._redis.set(self._key(key, "claim"), owner, nx=True, px=self._ms(self.lease)))
        if won:
            self._start_renewal(key, owner)
        return won

    async def _renew(self, key: str, owner: str) -> bool:
        return bool(await self._renew_script(keys=[self._key(key, "claim")], args=[owner, self._ms(self.lease)]))

    async def finish(self, key: str, chunks: list[str]) -> None:
        self._stop_renewal(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(key, "reply"), json.dumps(chunks, ensure_ascii=False), px=self._ms(self.ttl))
            pipe.set(self._key(key, "claim"), "done", px=self._ms(self.ttl))
            await pipe.execute()

    async def result(self, key: str) -> list[str] | None:
        raw = await self._redis.get(self._key(key, "reply"))
        return None if raw is None else json.loads(raw)

    async def claim_delivery(self, key: str, how: str) -> tuple[str, bool]:
        name = self._key(key, "delivered")
        if await self._redis.set(name, how, nx=True, px=self._ms(self.ttl)):
            return how, True
        current = await self._redis.get(name)
        return (current.decode() if current else how), False

    async def get_token(self) -> str | None:
        raw = await self._redis.get(f"{self.prefix}:access_token")
        return raw.decode() if raw else None

    async def set_token(self, token: str, ttl: float) -> None:
        await self._redis.set(f"{self.prefix}:access_token", token, px=self._ms(ttl))

    async def close(self) -> None:
        self._stop_all()
        await self._redis.close()


def make_store(
    redis_url: str | None,
    ttl: float = DEFAULT_TTL,
    prefix: str = "anxin:wechat",
    state_db: str | None = None,
) -> DedupeStore:
    """Redis when a URL is given; else SQLite when a file is (``state_db``, or the
    ``ANXIN_STATE_DB`` environment variable); else in memory."""
    if redis_url:
        return RedisDedupeStore(redis_url, ttl=ttl, prefix=prefix)
    state_db = state_db if state_db is not None else os.environ.get(STATE_DB_ENV, "").strip()
    if state_db:
        return SqliteDedupeStore(state_db, ttl=ttl, prefix=prefix)
    return MemoryDedupeStore(ttl=ttl)
