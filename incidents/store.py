"""Per-user incident log and submission record (SQLAlchemy 1.4 Core).

Where: ``ANXIN_INCIDENT_DB_URL`` (default ``sqlite:///var/incidents.db``,
relative to the working directory like ``var/tracker.db``; the folder is
created). PostgreSQL works by URL, e.g.
``postgresql://postgres@127.0.0.1:5432/anxin``.

Every call names the user (Rasa's ``sender_id``) and only ever touches that
user's rows, so one user can never read, change or delete another's log.

Concurrency: each call takes its own connection from the engine's pool and
commits before returning, so one store can be shared by the threads of the
action server; SQLite runs in WAL mode with a busy timeout so that readers
do not block the writer. The calls are blocking (milliseconds on SQLite): an
async action may wrap them in ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from incidents.phones import normalize_phone
from incidents.timeparse import PRECISIONS

ENV_URL = "ANXIN_INCIDENT_DB_URL"
DEFAULT_URL = "sqlite:///var/incidents.db"

MAX_DESCRIPTION = 2000
MAX_TIME_TEXT = 200
MAX_SHORT = 64
MAX_LIST_ITEMS = 20
MAX_ATTEMPTS = 999
EVIDENCE = ("recording", "screenshot", "call_log", "none")

_SHANGHAI = timezone(timedelta(hours=8))

metadata = MetaData()

incidents_table = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(255), nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("time_text", String(MAX_TIME_TEXT), nullable=False, default=""),
    # How exact occurred_at is (timeparse.PRECISIONS): "昨晚" must not be shown as 20:00.
    Column("time_precision", String(16), nullable=False, default="minute"),
    Column("caller_number", String(MAX_SHORT)),
    Column("contacted_person", String(MAX_SHORT)),
    Column("description", Text, nullable=False, default=""),
    Column("behaviours", Text, nullable=False, default="[]"),  # JSON list of behaviour keys
    Column("evidence", Text, nullable=False, default="[]"),  # JSON list of EVIDENCE keys
    # Calls covered by this entry ("连打了四次" is one entry with attempts=4).
    Column("attempts", Integer, nullable=False, default=1),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_incidents_user_time", "user_id", "occurred_at"),
)

submissions_table = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(255), nullable=False, index=True),
    Column("kind", String(MAX_SHORT), nullable=False),  # letter kind, e.g. regulator_complaint
    Column("channel", String(100), nullable=False),  # where it went, e.g. "12378"
    Column("submitted_at", DateTime, nullable=False),
    Column("reference", String(100)),  # ticket or receipt number
    Column("due_date", Date),  # when an answer is due
    Column("note", Text),
    Column("created_at", DateTime, nullable=False),
)


@dataclass(frozen=True)
class Incident:
    """One logged contact by a collector."""

    id: int
    user_id: str
    occurred_at: datetime
    time_text: str
    time_precision: str
    caller_number: str | None
    contacted_person: str | None
    description: str
    behaviours: list[str]
    evidence: list[str]
    attempts: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Submission:
    """A letter or complaint the user sent somewhere."""

    id: int
    user_id: str
    kind: str
    channel: str
    submitted_at: datetime
    reference: str | None
    due_date: date | None
    note: str | None
    created_at: datetime


def local_now() -> datetime:
    """Current naive Asia/Shanghai time (the store's timestamps)."""
    return datetime.now(_SHANGHAI).replace(tzinfo=None, microsecond=0)


# -- engine ----------------------------------------------------------------


def make_engine(url: str) -> Engine:
    """An engine suited to a multi-threaded action server."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        future=True,
        pool_pre_ping=True,
        # Rasa SDK runs actions on several threads; SQLite's own check is too strict.
        connect_args={"check_same_thread": False, "timeout": 30},
        # An in-memory database lives in one connection: share it.
        **({"poolclass": StaticPool} if in_memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


# -- validation ------------------------------------------------------------


def _user(user_id: object) -> str:
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 255:
        raise ValueError("user_id must be a non-empty string of at most 255 characters")
    return user_id


def _local(value: object, name: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_SHANGHAI).replace(tzinfo=None)
        return value.replace(microsecond=0)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, 12, 0)
    raise ValueError(f"{name} must be a datetime")


def _text(value: object, limit: int) -> str:
    # Truncated, never rejected: what the user said matters more than its length.
    return value.strip()[:limit] if isinstance(value, str) else ""


def _optional(value: object, limit: int = MAX_SHORT) -> str | None:
    return _text(value, limit) or None


def _caller(value: object) -> str | None:
    """The normalised number; a partial one ("151开头") is kept as typed."""
    if value is None:
        return None
    result = normalize_phone(str(value))
    return result.number if result.valid else _optional(str(value))


def _keys(values: object) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable):
        raise ValueError("expected a list of keys")
    keys = [v.strip()[:40] for v in values if isinstance(v, str) and v.strip()]
    return list(dict.fromkeys(keys))[:MAX_LIST_ITEMS]


def _evidence(values: object) -> list[str]:
    keys = _keys(values)
    unknown = [k for k in keys if k not in EVIDENCE]
    if unknown:
        raise ValueError(f"unknown evidence {unknown}; expected {EVIDENCE}")
    if len(keys) > 1 and "none" in keys:
        keys.remove("none")
    return keys


def _precision(value: object) -> str:
    if value is None:
        return "minute"
    if value not in PRECISIONS:
        raise ValueError(f"time_precision must be one of {PRECISIONS}")
    return str(value)


def _attempts(value: object) -> int:
    try:
        count = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("attempts must be a whole number") from None
    return max(1, min(count, MAX_ATTEMPTS))


_FIELDS: dict[str, Callable[[Any], Any]] = {
    "occurred_at": lambda v: _local(v, "occurred_at"),
    "time_text": lambda v: _text(v, MAX_TIME_TEXT),
    "time_precision": _precision,
    "caller_number": _caller,
    "contacted_person": _optional,
    "description": lambda v: _text(v, MAX_DESCRIPTION),
    "behaviours": lambda v: json.dumps(_keys(v), ensure_ascii=False),
    "evidence": lambda v: json.dumps(_evidence(v), ensure_ascii=False),
    "attempts": _attempts,
}
EDITABLE_FIELDS = tuple(_FIELDS)


def _incident(row: Any) -> Incident:
    data = dict(row._mapping)
    data["behaviours"] = json.loads(data["behaviours"] or "[]")
    data["evidence"] = json.loads(data["evidence"] or "[]")
    return Incident(**data)


# -- the store -------------------------------------------------------------


CREATE_ATTEMPTS = 3


def create_tables(tables: MetaData, engine: Engine) -> None:
    """``tables``, unless they exist. When several processes make them at once, the
    database refuses all but the first (PostgreSQL: "relation already exists" or a
    unique violation in ``pg_type``; SQLite: "table already exists"), once the first
    has committed: so look again, and the tables are there."""
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            tables.create_all(engine)
            return
        except DBAPIError:
            if attempt == CREATE_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)


class IncidentStore:
    """Incidents and submissions, always scoped to one user."""

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = local_now,
    ) -> None:
        self.url = url or os.environ.get(ENV_URL) or DEFAULT_URL
        self.engine = engine or make_engine(self.url)
        self._clock = clock
        create_tables(metadata, self.engine)

    def dispose(self) -> None:
        """Close pooled connections (the data stays)."""
        self.engine.dispose()

    # -- incidents --------------------------------------------------------
    def add(
        self,
        user_id: str,
        *,
        occurred_at: datetime,
        time_text: str = "",
        time_precision: str | None = None,
        caller_number: str | None = None,
        contacted_person: str | None = None,
        description: str = "",
        behaviours: Iterable[str] = (),
        evidence: Iterable[str] = (),
        attempts: int = 1,
    ) -> Incident:
        """Log one incident; returns it with its id. Long texts are truncated."""
        given = {
            "occurred_at": occurred_at,
            "time_text": time_text,
            "time_precision": time_precision,
            "caller_number": caller_number,
            "contacted_person": contacted_person,
            "description": description,
            "behaviours": behaviours,
            "evidence": evidence,
            "attempts": attempts,
        }
        values = {key: _FIELDS[key](value) for key, value in given.items()}
        now = self._clock()
        values.update(user_id=_user(user_id), created_at=now, updated_at=now)
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(incidents_table).values(**values)).inserted_primary_key[0]
        return self._get(user_id, new_id)  # type: ignore[return-value]

    def list(self, user_id: str) -> list[Incident]:
        """The user's incidents, oldest first."""
        query = (
            select(incidents_table)
            .where(incidents_table.c.user_id == _user(user_id))
            .order_by(incidents_table.c.occurred_at, incidents_table.c.id)
        )
        with self.engine.connect() as conn:
            return [_incident(row) for row in conn.execute(query)]

    def get(self, user_id: str, incident_id: int) -> Incident | None:
        """One of the user's incidents, or ``None`` (also for another user's id)."""
        return self._get(_user(user_id), incident_id)

    def _get(self, user_id: str, incident_id: int) -> Incident | None:
        query = select(incidents_table).where(
            incidents_table.c.user_id == user_id, incidents_table.c.id == incident_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _incident(row) if row else None

    def update(self, user_id: str, incident_id: int, /, **changes: Any) -> Incident | None:
        """Correct some fields of one incident; ``None`` if it is not the user's.

        Allowed fields: ``EDITABLE_FIELDS``. Unknown fields raise ``ValueError``.
        """
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        values = {key: _FIELDS[key](value) for key, value in changes.items()}
        values["updated_at"] = self._clock()
        query = (
            update(incidents_table)
            .where(incidents_table.c.user_id == _user(user_id), incidents_table.c.id == incident_id)
            .values(**values)
        )
        with self.engine.begin() as conn:
            if conn.execute(query).rowcount == 0:
                return None
        return self._get(user_id, incident_id)

    def delete(self, user_id: str, incident_id: int) -> bool:
        """Delete one of the user's incidents; ``False`` if there was none."""
        query = delete(incidents_table).where(
            incidents_table.c.user_id == _user(user_id), incidents_table.c.id == incident_id
        )
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount > 0

    def count(self, user_id: str) -> int:
        query = (
            select(func.count())
            .select_from(incidents_table)
            .where(incidents_table.c.user_id == _user(user_id))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def delete_all(self, user_id: str) -> int:
        """Forget everything about the user (incidents and submissions); rows removed."""
        user_id = _user(user_id)
        with self.engine.begin() as conn:
            removed = conn.execute(
                delete(incidents_table).where(incidents_table.c.user_id == user_id)
            ).rowcount
            removed += conn.execute(
                delete(submissions_table).where(submissions_table.c.user_id == user_id)
            ).rowcount
        return removed

    # -- submissions ------------------------------------------------------
    def add_submission(
        self,
        user_id: str,
        *,
        kind: str,
        channel: str,
        submitted_at: datetime,
        reference: str | None = None,
        due_date: date | None = None,
        note: str | None = None,
    ) -> Submission:
        """Record where a letter or complaint was sent, its receipt number and due date."""
        if not _optional(kind) or not _optional(channel, 100):
            raise ValueError("kind and channel are required")
        if due_date is not None and not isinstance(due_date, date):
            raise ValueError("due_date must be a date")
        if isinstance(due_date, datetime):
            due_date = due_date.date()
        values = {
            "user_id": _user(user_id),
            "kind": _optional(kind),
            "channel": _optional(channel, 100),
            "submitted_at": _local(submitted_at, "submitted_at"),
            "reference": _optional(reference, 100),
            "due_date": due_date,
            "note": _optional(note, MAX_DESCRIPTION),
            "created_at": self._clock(),
        }
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(submissions_table).values(**values)).inserted_primary_key[0]
        return next(s for s in self.list_submissions(user_id) if s.id == new_id)

    def list_submissions(self, user_id: str) -> list[Submission]:
        """The user's submissions, oldest first."""
        query = (
            select(submissions_table)
            .where(submissions_table.c.user_id == _user(user_id))
            .order_by(submissions_table.c.submitted_at, submissions_table.c.id)
        )
        with self.engine.connect() as conn:
            return [Submission(**dict(row._mapping)) for row in conn.execute(query)]


class ProcessWide:
    """One store per process, made on first use from the environment; ``reset``
    disposes of it (tests, or after changing the URL). Used for every store."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._store: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._store is None:
                self._store = self._factory()
            return self._store

    def reset(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.dispose()
            self._store = None


_process_store = ProcessWide(IncidentStore)


def get_store() -> IncidentStore:
    """The process-wide store (created on first use from the environment)."""
    return _process_store.get()


def reset_store() -> None:
    """Forget the process-wide store (tests, or after changing the URL)."""
    _process_store.reset()
