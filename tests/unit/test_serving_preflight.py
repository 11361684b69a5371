"""serving/preflight.py: unreachable PostgreSQL/Redis is a clear error within seconds."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from serving import preflight
from serving.server import PREFLIGHT_EXIT
from serving.server import main as server_main

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def scaled_env(pg_port: int, redis_port: int) -> dict[str, str]:
    return {
        "ACTIONS_PORT": "5055",
        "ANXIN_ACTION_SECRET": "x" * 32,
        "ANXIN_TRACKER_DB_URL": f"postgresql://postgres@127.0.0.1:{pg_port}/anxin",
        "ANXIN_REDIS_HOST": "127.0.0.1",
        "ANXIN_REDIS_PORT": str(redis_port),
        "ANXIN_REDIS_DB": "0",
        "ANXIN_REDIS_PREFIX": "anxin",
    }


def test_embedded_profile_needs_nothing(monkeypatch):
    monkeypatch.setenv("ANXIN_ACTION_SECRET", "x" * 32)
    assert preflight.checks_for_endpoints(preflight.read_endpoints(str(ROOT / "endpoints.yml"))) == []
    assert preflight.checks_for_environment({"ANXIN_INCIDENT_DB_URL": "sqlite:///var/incidents.db"}) == []
    assert preflight.check(str(ROOT / "endpoints.yml"), env={}) == []


def test_scaled_endpoints_name_postgres_and_redis(monkeypatch):
    for key, value in scaled_env(5432, 6379).items():
        monkeypatch.setenv(key, value)
    checks = preflight.checks_for_endpoints(preflight.read_endpoints(str(ROOT / "endpoints.scaled.yml")))
    assert [(c.what, c.kind) for c in checks] == [("tracker store", "sql"), ("lock store", "redis")]
    assert checks[0].shown == "postgresql://postgres@127.0.0.1:5432/anxin"
    assert checks[1].target["port"] == 6379 and checks[1].target["db"] == 0


def test_sql_url_from_separate_keys_as_rasa_builds_it():
    url = preflight._sql_url(
        {"dialect": "postgresql", "url": "db.local", "port": "5433", "db": "rasa", "username": "u", "password": "p"}
    )
    assert url.render_as_string(hide_password=False) == "postgresql://u:p@db.local:5433/rasa"
    assert preflight._sql_url({"dialect": "sqlite", "db": "x.db"}) is None


def test_passwords_are_not_shown():
    checks = preflight.checks_for_environment(
        {"ANXIN_INCIDENT_DB_URL": "postgresql://me:secret@127.0.0.1/x", "WECHAT_REDIS_URL": "redis://:pw@h:1/0"}
    )
    assert all("secret" not in c.shown and "pw" not in c.shown for c in checks)


def test_unreachable_services_fail_fast_with_a_clear_message(monkeypatch):
    for key, value in scaled_env(closed_port(), closed_port()).items():
        monkeypatch.setenv(key, value)
    start = time.monotonic()
    failures = preflight.check(str(ROOT / "endpoints.scaled.yml"), env={}, timeout=2)
    assert time.monotonic() - start < 10
    text = "\n".join(failures)
    assert "PostgreSQL for the tracker store does not answer at postgresql://postgres@127.0.0.1:" in text
    assert "Redis for the lock store does not answer at redis://127.0.0.1:" in text
    assert "make run" in text  # the way out


def test_missing_variable_is_named(monkeypatch):
    monkeypatch.delenv("ANXIN_TRACKER_DB_URL", raising=False)
    for key, value in scaled_env(5432, 6379).items():
        if key != "ANXIN_TRACKER_DB_URL":
            monkeypatch.setenv(key, value)
    failures = preflight.check(str(ROOT / "endpoints.scaled.yml"), env={})
    assert len(failures) == 1 and "ANXIN_TRACKER_DB_URL" in failures[0]


def test_server_refuses_to_start_without_its_database(monkeypatch, capsys):
    for key, value in scaled_env(closed_port(), closed_port()).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ANXIN_PREFLIGHT_TIMEOUT", "2")
    code = server_main(["run", "--endpoints", str(ROOT / "endpoints.scaled.yml"), "--port", "1"])
    assert code == PREFLIGHT_EXIT
    assert "PostgreSQL for the tracker store does not answer" in capsys.readouterr().err
