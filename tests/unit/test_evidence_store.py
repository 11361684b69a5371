"""The evidence store: bytes unchanged, hashes, owners kept apart, erasure; SQLite + folder and PostgreSQL."""

import hashlib
import io
import uuid
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from evidence import files
from evidence.store import EvidenceStore, Tampered, owner_key

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
RECEIVED = datetime(2026, 11, 28, 2, 30, 5, tzinfo=UTC)


def png(colour=(10, 20, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path):
    s = EvidenceStore(f"sqlite:///{tmp_path}/db/incidents.db", directory=tmp_path / "evidence", clock=lambda: RECEIVED)
    yield s
    s.dispose()


def add(s, user="alice", data=None, **kw):
    data = data or png()
    return s.add(user, data, files.check(data, "x.png"), channel=kw.pop("channel", "web"), **kw)


def test_original_bytes_hash_time_and_owner_are_kept(store, tmp_path):
    data = png()
    record = add(store, data=data, description="  催收发的短信  ", incident_ids=[3, 3, "4", -1])
    assert store.read(record) == data
    assert record.sha256 == hashlib.sha256(data).hexdigest() and record.size == len(data)
    assert (record.kind, record.file_type, record.mime) == ("image", "png", "image/png")
    assert record.received_at == RECEIVED and record.received_beijing.hour == 10
    assert record.channel == "web" and record.description == "催收发的短信"
    assert record.incident_ids == (3, 4)
    assert record.owner == owner_key("alice") != "alice"
    # On disk: owner key / random id; no user name, no file name.
    [path] = [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
    assert path.read_bytes() == data and "alice" not in str(path) and path.name == record.id


def test_one_owner_never_sees_another_owners_files(store):
    record = add(store, "alice")
    assert store.get("bob", record.id) is None
    assert store.list("bob") == []
    assert store.link_incidents("bob", record.id, [1]) is None
    assert store.describe("bob", record.id, "x") is None
    assert store.delete("bob", record.id) is False
    assert store.get("alice", record.id) is not None
    assert store.get("alice", "../../etc/passwd") is None


def test_links_to_entries_and_descriptions_change_only_those(store):
    record = add(store, incident_ids=[1])
    assert store.link_incidents("alice", record.id, [2, 1]).incident_ids == (1, 2)
    assert store.describe("alice", record.id, "录音：说要上门").description == "录音：说要上门"
    assert store.unlink_incident("alice", 1) == 1
    assert store.get("alice", record.id).incident_ids == (2,)
    assert store.read(store.get("alice", record.id)) == png()


def test_a_changed_file_is_noticed(store, tmp_path):
    record = add(store)
    [path] = [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
    path.write_bytes(png((1, 2, 3)))
    with pytest.raises(Tampered):
        store.read(record)
    path.unlink()
    with pytest.raises(Tampered):
        store.read(record)


def test_erasure_removes_every_file_of_the_user_and_only_theirs(store, tmp_path):
    mine = [add(store, "alice", data=png((i, 0, 0))) for i in range(3)]
    theirs = add(store, "bob")
    (tmp_path / "evidence" / owner_key("alice") / "left-by-a-crash.part").write_bytes(b"x")
    assert store.delete_all("alice") == 3
    assert store.list("alice") == [] and all(store.get("alice", r.id) is None for r in mine)
    assert not (tmp_path / "evidence" / owner_key("alice")).exists()
    assert store.read(store.get("bob", theirs.id)) == png()
    assert store.delete_all("alice") == 0


def test_bytes_can_live_in_the_database(tmp_path):
    s = EvidenceStore(f"sqlite:///{tmp_path}/e.db", directory=tmp_path / "unused", blobs="db")
    try:
        record = add(s)
        assert record.blob == "db" and s.read(record) == png()
        assert not (tmp_path / "unused").exists()
        assert s.delete_all("alice") == 1 and s.list("alice") == []
    finally:
        s.dispose()


def test_the_url_follows_the_incident_log_and_the_blob_place_follows_the_database(monkeypatch, tmp_path):
    monkeypatch.delenv("ANXIN_EVIDENCE_DB_URL", raising=False)
    monkeypatch.delenv("ANXIN_EVIDENCE_BLOBS", raising=False)
    monkeypatch.setenv("ANXIN_INCIDENT_DB_URL", f"sqlite:///{tmp_path}/i.db")
    s = EvidenceStore(directory=tmp_path / "ev")
    assert s.url.endswith("/i.db") and s.blobs == "dir"
    s.dispose()
    with pytest.raises(ValueError):
        EvidenceStore(f"sqlite:///{tmp_path}/i.db", blobs="s3")


# -- PostgreSQL (the scaled profile) ---------------------------------------------------


def _postgres_reason() -> str | None:
    try:
        import psycopg2

        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=2).close()
    except Exception as exc:  # any failure means: not available here
        return f"PostgreSQL at {PG_URL} is not reachable ({type(exc).__name__})"
    return None


@pytest.fixture
def pg_url():
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    schema = f"anxin_ev_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, future=True)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_postgresql_keeps_the_bytes_for_every_process(pg_url, tmp_path):
    first = EvidenceStore(pg_url, directory=tmp_path / "never-used")
    assert first.blobs == "db"
    data = png()
    record = add(first, "alice", data=data, channel="wechat", incident_ids=[7])
    add(first, "bob")
    first.dispose()
    # Another process (here: another engine) reads the same file.
    second = EvidenceStore(pg_url)
    try:
        again = second.get("alice", record.id)
        assert second.read(again) == data and again.incident_ids == (7,) and again.channel == "wechat"
        assert second.get("bob", record.id) is None
        assert second.delete_all("alice") == 1 and second.list("alice") == []
        assert len(second.list("bob")) == 1
        with second.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM evidence_blobs")).scalar_one() == 1
    finally:
        second.dispose()
    assert not (tmp_path / "never-used").exists()
