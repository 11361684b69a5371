"""PostgreSQL unreachable when the scaled profile starts: a clear error within seconds,
not Rasa retrying forever. Needs neither PostgreSQL nor Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scaled_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ANXIN_PROFILE": "scaled",
        "RASA_PORT": "5380",
        "RASA_BACKEND_PORTS": "5305 5306",
        "ACTIONS_PORT": "5355",
        "WEB_PORT": "8380",
        "ANXIN_PG_URL": f"postgresql://postgres@127.0.0.1:{closed_port()}/anxin",
        "ANXIN_TRACKER_DB_URL": "",
        "ANXIN_INCIDENT_DB_URL": "",
        "WECHAT_REDIS_URL": "",
        "ANXIN_RATE_REDIS_URL": "",
        "ANXIN_ENDPOINTS": "",
        "ANXIN_LOG_DIR": "",
        **extra,
    }


def test_run_scaled_without_postgres_stops_at_once_saying_why(tmp_path):
    start = time.monotonic()
    done = subprocess.run(
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=scaled_env(ANXIN_LOG_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert time.monotonic() - start < 30
    assert "PostgreSQL for the tracker store does not answer at postgresql://postgres@127.0.0.1:" in done.stderr
    assert "ready" not in done.stdout


def test_run_scaled_without_nginx_stops_at_once_saying_why(tmp_path):
    done = subprocess.run(
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=scaled_env(ANXIN_LOG_DIR=str(tmp_path), ANXIN_NGINX=str(tmp_path / "no-nginx")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "make setup-nginx" in done.stderr
    assert "ready" not in done.stdout


def test_rasa_itself_without_postgres_stops_at_once_saying_why():
    env = scaled_env(
        ANXIN_ENDPOINTS="endpoints.scaled.yml",
        ANXIN_ACTION_SECRET="x" * 32,
        ANXIN_TRACKER_DB_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/anxin",
        ANXIN_REDIS_HOST="127.0.0.1",
        ANXIN_REDIS_PORT="6379",
        ANXIN_REDIS_DB="0",
        ANXIN_REDIS_PREFIX="anxin",
        ANXIN_PREFLIGHT_TIMEOUT="2",
    )
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "serving.server", "run", "--endpoints", "endpoints.scaled.yml", "--port", "5305"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert time.monotonic() - start < 30
    assert "PostgreSQL for the tracker store does not answer" in done.stderr
