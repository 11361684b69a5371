"""Evidence files: the original bytes, unchanged, and what we know about them.

Where (same engine handling as ``incidents/store.py``):

- rows: ``ANXIN_EVIDENCE_DB_URL``, else ``ANXIN_INCIDENT_DB_URL`` (so the
  scaled profile's PostgreSQL is used without a new setting), else
  ``sqlite:///var/incidents.db``: the files sit beside the entries they support;
- bytes (``ANXIN_EVIDENCE_BLOBS``): ``dir`` — one file per upload under
  ``ANXIN_EVIDENCE_DIR`` (default ``var/evidence``), the embedded default with
  SQLite; ``db`` — a ``evidence_blobs`` table (``LargeBinary``: ``BYTEA`` on
  PostgreSQL), the default with any other database, so that every process on
  every machine of the scaled profile reads the same files.

Per file: a random id (also what a link names), SHA-256, size, real type,
receive time (UTC; ``received_beijing`` for showing), channel, owner, linked
incident ids, the user's one-line description, and for audio the duration.

The owner is stored as ``owner_key(user_id)``, a SHA-256 of Rasa's sender id,
so a copy of the table does not name WeChat users; every call takes the
sender id and only touches that owner's files. Names of uploaded files are
not kept at all (they are personal data, and nothing needs them); on disk a
file is ``<owner key>/<file id>``. Nothing here logs.

Every read checks the bytes against the stored SHA-256 (``Tampered`` if not).

The tables are made on first use (``create_tables``), by whichever process comes
first: several at once on a fresh database (the scaled profile's Rasa processes
and action server, the embedded profile's workers) is expected and safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url

from evidence.files import Checked
from incidents.store import ENV_URL as INCIDENT_ENV_URL
from incidents.store import ProcessWide, create_tables, make_engine

ENV_URL = "ANXIN_EVIDENCE_DB_URL"
ENV_DIR = "ANXIN_EVIDENCE_DIR"
ENV_BLOBS = "ANXIN_EVIDENCE_BLOBS"
DEFAULT_URL = "sqlite:///var/incidents.db"
DEFAULT_DIR = "var/evidence"
MAX_DESCRIPTION = 200
MAX_CHANNEL = 32
MAX_LINKS = 200
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

metadata = MetaData()

files_table = Table(
    "evidence_files",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # image | audio
    Column("file_type", String(8), nullable=False),  # jpg, png, m4a, ...
    Column("mime", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("received_at", DateTime, nullable=False),  # naive UTC
    Column("channel", String(MAX_CHANNEL), nullable=False),
    Column("description", String(MAX_DESCRIPTION), nullable=False, default=""),
    Column("incident_ids", Text, nullable=False, default="[]"),  # JSON list
    Column("width", Integer),
    Column("height", Integer),
    Column("duration", Float),  # seconds
    Column("blob", String(8), nullable=False),  # where the bytes are: dir | db
)

blobs_table = Table(
    "evidence_blobs",
    metadata,
    Column("file_id", String(32), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)


class Tampered(RuntimeError):
    """The stored bytes no longer match their SHA-256."""


@dataclass(frozen=True)
class EvidenceFile:
    id: str
    owner: str  # owner_key(sender id)
    kind: str
    file_type: str
    mime: str
    size: int
    sha256: str
    received_at: datetime  # aware, UTC
    channel: str
    description: str
    incident_ids: tuple[int, ...]
    width: int | None
    height: int | None
    duration: float | None
    blob: str

    @property
    def received_beijing(self) -> datetime:
        return self.received_at.astimezone(BEIJING)

    @property
    def extension(self) -> str:
        return self.file_type


def owner_key(user_id: str) -> str:
    """How an owner is stored: SHA-256 of the sender id (hex)."""
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 255:
        raise ValueError("user_id must be a non-empty string of at most 255 characters")
    return hashlib.sha256(("anxin-evidence-owner:" + user_id).encode("utf-8")).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _row(row: Any) -> EvidenceFile:
    data = dict(row._mapping)
    data["incident_ids"] = tuple(json.loads(data["incident_ids"] or "[]"))
    data["received_at"] = data["received_at"].replace(tzinfo=UTC)
    return EvidenceFile(**data)


def _ids(values: Iterable[Any]) -> list[int]:
    result = []
    for value in values or ():
        if isinstance(value, bool):
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if number > 0 and number not in result:
            result.append(number)
    return result[:MAX_LINKS]


def _file_id(value: object) -> str | None:
    if isinstance(value, str) and 8 <= len(value) <= 32 and value.replace("-", "").replace("_", "").isalnum():
        return value
    return None


class EvidenceStore:
    """Evidence files, always scoped to one owner."""

    def __init__(
        self,
        url: str | None = None,
        *,
        directory: str | Path | None = None,
        blobs: str | None = None,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.url = url or os.environ.get(ENV_URL) or os.environ.get(INCIDENT_ENV_URL) or DEFAULT_URL
        self.engine = engine or make_engine(self.url)
        backend = make_url(self.url).get_backend_name()
        self.blobs = blobs or os.environ.get(ENV_BLOBS) or ("dir" if backend == "sqlite" else "db")
        if self.blobs not in ("dir", "db"):
            raise ValueError(f"{ENV_BLOBS} must be 'dir' or 'db'")
        self.directory = Path(directory or os.environ.get(ENV_DIR) or DEFAULT_DIR)
        self._clock = clock
        create_tables(metadata, self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- paths -------------------------------------------------------------------
    def _owner_dir(self, owner: str) -> Path:
        return self.directory / owner

    def _path(self, owner: str, file_id: str) -> Path:
        return self._owner_dir(owner) / file_id

    def _write_file(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(path.name + ".part")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)

    # -- files --------------------------------------------------------------------
    def add(
        self,
        user_id: str,
        data: bytes,
        checked: Checked,
        *,
        channel: str,
        description: str = "",
        incident_ids: Iterable[int] = (),
    ) -> EvidenceFile:
        """Store an upload that ``evidence.files.check`` passed; returns its record."""
        owner = owner_key(user_id)
        if not isinstance(data, bytes | bytearray) or len(data) != checked.size:
            raise ValueError("data does not match its check")
        data = bytes(data)
        file_id = secrets.token_urlsafe(12)  # 16 characters, unguessable
        values = {
            "id": file_id,
            "owner": owner,
            "kind": checked.kind,
            "file_type": checked.file_type,
            "mime": checked.mime,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "received_at": self._clock().astimezone(UTC).replace(tzinfo=None),
            "channel": (channel or "unknown").strip()[:MAX_CHANNEL],
            "description": (description or "").strip()[:MAX_DESCRIPTION],
            "incident_ids": json.dumps(_ids(incident_ids)),
            "width": checked.width,
            "height": checked.height,
            "duration": checked.duration,
            "blob": self.blobs,
        }
        if self.blobs == "dir":
            path = self._path(owner, file_id)
            self._write_file(path, data)
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(files_table).values(**values))
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        else:
            with self.engine.begin() as conn:
                conn.execute(insert(files_table).values(**values))
                conn.execute(insert(blobs_table).values(file_id=file_id, data=data))
        return self._get(owner, file_id)  # type: ignore[return-value]

    def _get(self, owner: str, file_id: object) -> EvidenceFile | None:
        file_id = _file_id(file_id)
        if file_id is None:
            return None
        query = select(files_table).where(files_table.c.owner == owner, files_table.c.id == file_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _row(row) if row else None

    def get(self, user_id: str, file_id: str) -> EvidenceFile | None:
        """One of the user's files, or ``None`` (also for another user's id)."""
        return self._get(owner_key(user_id), file_id)

    def get_for_owner(self, owner: str, file_id: str) -> EvidenceFile | None:
        """The same, by owner key (a signed link carries the key, not the sender id)."""
        return self._get(owner, file_id)

    def list(self, user_id: str) -> list[EvidenceFile]:
        """The user's files, oldest first."""
        query = (
            select(files_table)
            .where(files_table.c.owner == owner_key(user_id))
            .order_by(files_table.c.received_at, files_table.c.id)
        )
        with self.engine.connect() as conn:
            return [_row(row) for row in conn.execute(query)]

    def read(self, record: EvidenceFile) -> bytes:
        """The original bytes of a record got from this store; checked against its hash."""
        if record.blob == "dir":
            try:
                data = self._path(record.owner, record.id).read_bytes()
            except FileNotFoundError:
                raise Tampered("the file is missing") from None
        else:
            query = select(blobs_table.c.data).where(blobs_table.c.file_id == record.id)
            with self.engine.connect() as conn:
                data = conn.execute(query).scalar_one_or_none()
            if data is None:
                raise Tampered("the file is missing")
            data = bytes(data)
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise Tampered("the stored bytes do not match their SHA-256")
        return data

    def link_incidents(self, user_id: str, file_id: str, incident_ids: Iterable[int]) -> EvidenceFile | None:
        """Add incident ids to a file's links; ``None`` if the file is not the user's."""
        record = self.get(user_id, file_id)
        if record is None:
            return None
        ids = _ids([*record.incident_ids, *incident_ids])
        return self._update(record, incident_ids=json.dumps(ids))

    def unlink_incident(self, user_id: str, incident_id: int) -> int:
        """Forget a deleted incident in every file of the user; files changed."""
        changed = 0
        for record in self.list(user_id):
            if incident_id in record.incident_ids:
                ids = [i for i in record.incident_ids if i != incident_id]
                self._update(record, incident_ids=json.dumps(ids))
                changed += 1
        return changed

    def describe(self, user_id: str, file_id: str, description: str) -> EvidenceFile | None:
        """Set the user's one-line description ("催收员说要上门的录音")."""
        record = self.get(user_id, file_id)
        if record is None:
            return None
        return self._update(record, description=(description or "").strip()[:MAX_DESCRIPTION])

    def _update(self, record: EvidenceFile, **values: Any) -> EvidenceFile | None:
        query = (
            update(files_table)
            .where(files_table.c.owner == record.owner, files_table.c.id == record.id)
            .values(**values)
        )
        with self.engine.begin() as conn:
            conn.execute(query)
        return self._get(record.owner, record.id)

    def delete(self, user_id: str, file_id: str) -> bool:
        record = self.get(user_id, file_id)
        if record is None:
            return False
        with self.engine.begin() as conn:
            conn.execute(delete(blobs_table).where(blobs_table.c.file_id == record.id))
            conn.execute(
                delete(files_table).where(files_table.c.owner == record.owner, files_table.c.id == record.id)
            )
        self._path(record.owner, record.id).unlink(missing_ok=True)
        return True

    def delete_all(self, user_id: str) -> int:
        """Erase every file of the user ("删除我的数据"): rows, bytes and folder; files removed."""
        owner = owner_key(user_id)
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(files_table.c.id).where(files_table.c.owner == owner))]
            for start in range(0, len(ids), 500):
                conn.execute(delete(blobs_table).where(blobs_table.c.file_id.in_(ids[start : start + 500])))
            conn.execute(delete(files_table).where(files_table.c.owner == owner))
        # The whole folder goes, with any file a crash left behind.
        folder = self._owner_dir(owner)
        if folder.exists():
            shutil.rmtree(folder)
        return len(ids)


_process_store = ProcessWide(EvidenceStore)


def get_store() -> EvidenceStore:
    """The process-wide store (created on first use from the environment)."""
    return _process_store.get()


def reset_store() -> None:
    _process_store.reset()
