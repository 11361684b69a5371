"""The incident store: CRUD per user, persistence, privacy, SQLite and PostgreSQL."""

import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from incidents import store as store_module
from incidents.store import MAX_DESCRIPTION, IncidentStore

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 11, 20, 22, 40)


def fixed_clock():
    return datetime(2026, 11, 28, 10, 0)


@pytest.fixture
def store(tmp_path):
    s = IncidentStore(f"sqlite:///{tmp_path}/db/incidents.db", clock=fixed_clock)
    yield s
    s.dispose()


def add(s, user="u1", when=T0, **kw):
    return s.add(user, occurred_at=when, **kw)


def test_add_and_get_normalise_the_fields(store):
    incident = add(
        store,
        time_text="昨晚十点四十",
        time_precision="minute",
        caller_number="+86 138 1234 5678",
        contacted_person="母亲",
        description="  对方说要去单位闹  ",
        behaviours=["insults", "threats", "insults"],
        evidence=["recording", "screenshot"],
    )
    assert incident.id
    assert incident.caller_number == "13812345678"
    assert incident.description == "对方说要去单位闹"
    assert incident.behaviours == ["insults", "threats"]
    assert incident.evidence == ["recording", "screenshot"]
    assert incident.attempts == 1
    assert incident.created_at == incident.updated_at == fixed_clock()
    assert store.get("u1", incident.id) == incident


def test_defaults_and_partial_numbers(store):
    incident = add(store, caller_number="151开头的")
    assert incident.caller_number == "151开头的"  # kept as typed, not "normalised" into a guess
    assert incident.time_precision == "minute"
    assert incident.contacted_person is None
    assert incident.behaviours == [] and incident.evidence == []
    assert add(store, caller_number=None).caller_number is None


def test_long_description_is_truncated_not_rejected(store):
    incident = add(store, description="骂" * (MAX_DESCRIPTION + 500))
    assert len(incident.description) == MAX_DESCRIPTION


def test_aware_datetimes_are_stored_as_shanghai_time(store):
    incident = add(store, when=datetime(2026, 11, 20, 14, 40, tzinfo=UTC))
    assert incident.occurred_at == T0


def test_list_is_ordered_by_time(store):
    late = add(store, when=T0 + timedelta(hours=2))
    early = add(store, when=T0 - timedelta(days=1))
    middle = add(store, when=T0)
    assert [i.id for i in store.list("u1")] == [early.id, middle.id, late.id]


def test_update_corrects_fields(store):
    incident = add(store, description="打给我妈")
    later = lambda: datetime(2026, 11, 29, 9, 0)  # noqa: E731
    store._clock = later
    updated = store.update(
        "u1",
        incident.id,
        description="打给我爸",
        caller_number="010 1234 5678",
        attempts=3,
        evidence=["none"],
    )
    assert updated.description == "打给我爸"
    assert updated.caller_number == "010-12345678"
    assert updated.attempts == 3
    assert updated.evidence == ["none"]
    assert updated.created_at == fixed_clock() and updated.updated_at == later()
    with pytest.raises(ValueError):
        store.update("u1", incident.id, user_id="u2")
    with pytest.raises(ValueError):
        store.update("u1", incident.id, evidence=["video"])


def test_delete_one_and_count(store):
    first, second = add(store), add(store)
    assert store.count("u1") == 2
    assert store.delete("u1", first.id) is True
    assert store.delete("u1", first.id) is False
    assert store.count("u1") == 1
    assert store.get("u1", second.id) is not None


def test_users_are_isolated(store):
    mine = add(store, user="alice", description="我的")
    add(store, user="bob", description="他的")
    assert [i.description for i in store.list("alice")] == ["我的"]
    assert store.get("bob", mine.id) is None
    assert store.update("bob", mine.id, description="改掉") is None
    assert store.delete("bob", mine.id) is False
    assert store.get("alice", mine.id).description == "我的"


def test_delete_all_removes_incidents_and_submissions_of_one_user_only(store):
    for _ in range(3):
        add(store, user="alice")
    add(store, user="bob")
    store.add_submission("alice", kind="lender_complaint", channel="95188", submitted_at=T0)
    store.add_submission("bob", kind="lender_complaint", channel="95188", submitted_at=T0)
    assert store.delete_all("alice") == 4
    assert store.count("alice") == 0 and store.list_submissions("alice") == []
    assert store.count("bob") == 1 and len(store.list_submissions("bob")) == 1


def test_submissions(store):
    second = store.add_submission(
        "u1",
        kind="regulator_complaint",
        channel="12378",
        submitted_at=datetime(2026, 11, 28, 10, 0),
        reference="TS-2026-001",
        due_date=date(2026, 12, 13),
    )
    first = store.add_submission("u1", kind="lender_complaint", channel="平台客服", submitted_at=T0)
    assert [s.id for s in store.list_submissions("u1")] == [first.id, second.id]
    assert second.reference == "TS-2026-001" and second.due_date == date(2026, 12, 13)
    assert store.delete_all("u1") == 2
    with pytest.raises(ValueError):
        store.add_submission("u1", kind="", channel="12378", submitted_at=T0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"occurred_at": "昨天"},
        {"occurred_at": T0, "evidence": ["video"]},
        {"occurred_at": T0, "time_precision": "week"},
        {"occurred_at": T0, "attempts": "many"},
    ],
)
def test_invalid_input_is_refused(store, kwargs):
    with pytest.raises(ValueError):
        store.add("u1", **kwargs)


@pytest.mark.parametrize("user", ["", "   ", None, "x" * 256])
def test_a_user_id_is_required(store, user):
    with pytest.raises(ValueError):
        store.list(user)


def test_data_survives_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path}/incidents.db"
    first = IncidentStore(url)
    written = first.add("u1", occurred_at=T0, description="重启前写的", behaviours=["threats"])
    first.dispose()
    second = IncidentStore(url)
    assert second.list("u1") == [written]
    second.dispose()


def test_default_url_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(store_module.ENV_URL, raising=False)
    store_module.reset_store()
    try:
        default = store_module.get_store()
        assert default is store_module.get_store()
        default.add("u1", occurred_at=T0)
        assert (tmp_path / "var" / "incidents.db").exists()  # the folder is created
    finally:
        store_module.reset_store()
    monkeypatch.setenv(store_module.ENV_URL, f"sqlite:///{tmp_path}/other/x.db")
    try:
        store_module.get_store().add("u1", occurred_at=T0)
        assert (tmp_path / "other" / "x.db").exists()
    finally:
        store_module.reset_store()


def test_in_memory_sqlite_is_shared_between_threads():
    memory = IncidentStore("sqlite://")
    add(memory)
    result = []
    worker = threading.Thread(target=lambda: result.append(memory.count("u1")))
    worker.start()
    worker.join()
    assert result == [1]


def test_concurrent_writers(store):
    errors = []

    def write(user):
        try:
            for n in range(15):
                store.add(user, occurred_at=T0 + timedelta(minutes=n), description=str(n))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"user{k}",)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [store.count(f"user{k}") for k in range(8)] == [15] * 8


# -- PostgreSQL ----------------------------------------------------------------


def _postgres_reason() -> str | None:
    try:
        import psycopg2

        psycopg2.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=2
        ).close()
    except Exception as exc:  # any failure means: not available here
        return f"PostgreSQL at {PG_URL} is not reachable ({type(exc).__name__}: {str(exc).strip()[:80]})"
    return None


@pytest.fixture
def pg_store():
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    schema = f"anxin_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, future=True)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    # Each test gets its own schema so the shared database stays clean.
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    s = IncidentStore(url)
    try:
        yield s, url
    finally:
        s.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_postgresql_crud_isolation_and_restart(pg_store):
    s, url = pg_store
    incident = s.add(
        "alice",
        occurred_at=T0,
        caller_number="138 1234 5678",
        description="深夜来电",
        behaviours=["night_calls"],
    )
    s.add("bob", occurred_at=T0)
    assert s.update("alice", incident.id, attempts=7).attempts == 7
    assert s.get("bob", incident.id) is None
    s.add_submission(
        "alice", kind="report_12321", channel="12321", submitted_at=T0, due_date=date(2026, 12, 1)
    )
    s.dispose()

    reopened = IncidentStore(url)
    try:
        [again] = reopened.list("alice")
        assert again.caller_number == "13812345678" and again.attempts == 7
        assert again.behaviours == ["night_calls"]
        assert reopened.list_submissions("alice")[0].due_date == date(2026, 12, 1)
        assert reopened.delete_all("alice") == 2
        assert reopened.count("alice") == 0 and reopened.count("bob") == 1
    finally:
        reopened.dispose()
