"""SQLite tracker store: keep connections open instead of one per read and write.

SQLAlchemy 1.4 gives a file-backed SQLite database a ``NullPool``: Rasa's SQL
tracker store opened a new connection for each read and each write of a
conversation, ran the WAL pragmas on it (serving/patches.py) and closed it,
and closing the last connection of a WAL database runs a checkpoint. Measured
with py-spy on the embedded profile at 10 users: connecting, the pragmas,
commit and close together were ~11 % of a worker's time, and with two workers
every close competed for the database's write lock.

Now each process keeps a small pool of connections to the file (Rasa uses
the store from its event loop only). Checkpoints happen as SQLite's automatic
ones (every 1000 pages). Other databases are left as they were.
``install()`` is called by serving/server.py.
"""

from __future__ import annotations

from typing import Any

POOL_SIZE = 2
_installed = False


def engine_kwargs(url: Any, original: Any) -> dict[str, Any]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import QueuePool

    kwargs = dict(original(url))
    parsed = make_url(str(url)) if not hasattr(url, "drivername") else url
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        kwargs.setdefault("poolclass", QueuePool)
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", 4)
    return kwargs


def install() -> None:
    global _installed
    if _installed:
        return
    import rasa.core.tracker_store as tracker_store

    original = tracker_store.create_engine_kwargs
    tracker_store.create_engine_kwargs = lambda url: engine_kwargs(url, original)
    _installed = True
