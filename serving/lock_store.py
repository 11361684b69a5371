"""A conversation lock store shared by the Rasa processes of one machine, without Redis.

Rasa runs one message per conversation at a time through its lock store, and
refuses several Sanic workers with the in-memory one (each worker would lock
only its own messages). ``FileLockStore`` locks with ``flock(2)`` on files in
a folder (``var/locks``), so every process of the machine sees the same locks:

    lock_store:
      type: serving.lock_store.FileLockStore
      path: var/locks          # optional; relative to the working directory

- **A lock dies with its process.** The kernel releases an ``flock`` when the
  last descriptor of it closes, and a process that dies closes all of its own:
  a worker killed while answering blocks its conversation for no time at all
  (Redis and Rasa's ticket locks keep it for ``TICKET_LOCK_LIFETIME``).
- **One file per stripe, not per conversation**: the conversation id is hashed
  (sha256) onto one of ``STRIPES`` files, so the folder stays small and no
  sender id appears in a file name. Two conversations on the same stripe wait
  for each other only while both are being answered (one in 4096).
- **In order within a process**: a process's messages for one stripe queue on
  an ``asyncio.Lock`` (first come, first served), and only the first of them
  asks the kernel, polling ``LOCK_NB`` every few milliseconds, so the event
  loop never blocks and no thread is used.
- **Never stuck behind a hung holder**: like Rasa's ticket lock, a message
  that waited ``lock_lifetime`` seconds (``TICKET_LOCK_LIFETIME``, Rasa's 60 s
  by default) goes ahead anyway, with a warning.

Rasa's ticket-lock methods (``get_lock``, ``save_lock``, …) have nothing to
store here: ``lock()`` is the whole interface Rasa and serving/patches.py use.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockStore

logger = logging.getLogger(__name__)

DEFAULT_PATH = "var/locks"
STRIPES = 4096
POLL_FIRST = 0.002  # seconds between tries at a held lock: doubling up to POLL_MAX
POLL_MAX = 0.02


def stripe_of(conversation_id: str, stripes: int = STRIPES) -> int:
    digest = hashlib.sha256(conversation_id.encode("utf-8", errors="surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big") % stripes


class _Local:
    """One process's queue for one stripe (dropped when nobody uses it)."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class FileLockStore(LockStore):
    def __init__(self, endpoint_config: Any = None, path: str | os.PathLike | None = None, stripes: int = STRIPES):
        settings = dict(getattr(endpoint_config, "kwargs", None) or {})
        self.path = Path(path or settings.get("path") or DEFAULT_PATH)
        self.stripes = int(settings.get("stripes") or stripes)
        self.path.mkdir(parents=True, exist_ok=True)
        self._local: dict[int, _Local] = {}
        self._pid = os.getpid()
        super().__init__()

    # Rasa's ticket-lock interface: nothing is stored, the kernel holds the locks.
    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return None

    def save_lock(self, lock: TicketLock) -> None:
        return None

    def delete_lock(self, conversation_id: str) -> None:
        return None

    def file_for(self, conversation_id: str) -> Path:
        return self.path / f"{stripe_of(conversation_id, self.stripes):04x}.lock"

    def _queue(self, stripe: int) -> _Local:
        if self._pid != os.getpid():  # a forked worker: its parent's queues are not its own
            self._local, self._pid = {}, os.getpid()
        local = self._local.get(stripe)
        if local is None:
            local = self._local[stripe] = _Local()
        return local

    @contextlib.asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        """Hold ``conversation_id``'s lock, against every process using ``self.path``."""
        stripe = stripe_of(conversation_id, self.stripes)
        deadline = time.monotonic() + lock_lifetime
        local = self._queue(stripe)
        local.users += 1
        queued = False
        fd = -1
        try:
            try:
                await asyncio.wait_for(local.lock.acquire(), timeout=max(lock_lifetime, 0.001))
                queued = True
            except TimeoutError:
                logger.warning("lock_store.waited_too_long seconds=%.0f; going ahead", lock_lifetime)
            fd = os.open(self.path / f"{stripe:04x}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            if not await self._flock(fd, deadline):
                logger.warning("lock_store.waited_too_long seconds=%.0f; going ahead", lock_lifetime)
            yield TicketLock(conversation_id)
        finally:
            if fd >= 0:
                os.close(fd)  # releases the flock
            if queued:
                local.lock.release()
            local.users -= 1
            if local.users == 0 and self._local.get(stripe) is local:
                del self._local[stripe]

    @staticmethod
    async def _flock(fd: int, deadline: float) -> bool:
        """Take the exclusive flock on ``fd``; False when ``deadline`` passed first."""
        pause = POLL_FIRST
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_MAX)
