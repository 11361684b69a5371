"""The scaled profile as `make run-scaled` starts it (scripts/run.sh, ANXIN_PROFILE=scaled),
on ports, a PostgreSQL database and a Redis key prefix of its own, and helpers to
stop, kill and restart its processes one at a time.

Needs PostgreSQL and Redis (ANXIN_TEST_PG_URL, default
postgresql://postgres@127.0.0.1:5432/test, where a database is created and
dropped; ANXIN_TEST_REDIS_HOST/PORT, default 127.0.0.1:6379) and nginx (make
setup-nginx); the tests that need them skip, saying so, where they are absent,
and fail in CI (CI=true), whose machines have them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("ANXIN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_HOST = os.environ.get("ANXIN_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("ANXIN_TEST_REDIS_PORT", "6379"))
NGINX_PORT = int(os.environ.get("ANXIN_TEST_NGINX_PORT", "5380"))
RASA_PORTS = [int(p) for p in os.environ.get("ANXIN_TEST_RASA_PORTS", "5305 5306").split()]
ACTIONS_PORT = int(os.environ.get("ANXIN_TEST_FAULTS_ACTIONS_PORT", "5355"))
WEB_PORT = int(os.environ.get("ANXIN_TEST_FAULTS_WEB_PORT", "8380"))
LOCK_LIFETIME = 5  # seconds a killed process's conversation lock lasts (TICKET_LOCK_LIFETIME)
START_TIMEOUT = 420
APOLOGY = "稍后再试"
WECHAT_TOKEN = "faults-token"


def services_missing() -> str | None:
    """Why the scaled profile cannot run here, or None."""
    from sqlalchemy.engine import make_url

    from serving.nginx_conf import find_nginx
    from serving.preflight import Check, run_check

    if not find_nginx():
        return "nginx is not installed (make setup-nginx)"
    url = make_url(PG_URL)
    if reason := run_check(Check("tests", "sql", url, ""), 3):
        return f"PostgreSQL does not answer at {url.render_as_string(hide_password=True)} ({reason})"
    if reason := run_check(Check("tests", "redis", {"host": REDIS_HOST, "port": REDIS_PORT, "db": 0}, ""), 3):
        return f"Redis does not answer at {REDIS_HOST}:{REDIS_PORT} ({reason})"
    return None


def admin_sql(*statements: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def find_pid(*needles: str) -> int | None:
    """The pid of the process whose command line contains every needle."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(n in cmd for n in needles) and "pytest" not in cmd:
            return int(proc.name)
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is dead
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def url_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(what)


@dataclass
class Process:
    """A process of the profile, known by what it serves, restartable with its own command line."""

    needles: tuple[str, ...]
    health_url: str
    cluster: Cluster

    @property
    def pid(self) -> int | None:
        return find_pid(*self.needles)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        pid = self.pid
        assert pid is not None, f"{self.needles} is not running"
        proc = Path(f"/proc/{pid}")
        self.cluster.saved[self.needles] = (
            (proc / "cmdline").read_bytes().split(b"\0")[:-1],
            dict(
                line.split(b"=", 1) for line in (proc / "environ").read_bytes().split(b"\0") if b"=" in line
            ),
            os.readlink(proc / "cwd"),
        )
        os.kill(pid, sig)
        wait_until(lambda: not alive(pid), timeout, f"{self.needles} to stop")

    def kill(self) -> None:
        self.stop(signal.SIGKILL, timeout=10)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start it again exactly as it was started (command line, environment, folder)."""
        cmdline, environ, cwd = self.cluster.saved[self.needles]
        log = open(self.cluster.tmp / f"restarted-{'-'.join(self.needles[-1:])}.log", "ab")
        process = subprocess.Popen(
            [c.decode() for c in cmdline],
            cwd=cwd,
            env={k.decode(): v.decode() for k, v in environ.items()},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.cluster.started.append(process)
        wait_until(lambda: process.poll() is None and url_ok(self.health_url), timeout, f"{self.needles} to answer")


@dataclass
class Cluster:
    tmp: Path
    database: str
    pg_url: str
    redis_prefix: str
    run: subprocess.Popen | None = None
    started: list[subprocess.Popen] = field(default_factory=list)
    saved: dict = field(default_factory=dict)

    @property
    def nginx(self) -> str:
        return f"http://127.0.0.1:{NGINX_PORT}"

    def rasa(self, index: int) -> Process:
        port = RASA_PORTS[index]
        return Process(("serving.server", "run", f"--port {port}"), f"http://127.0.0.1:{port}/", self)

    def rasa_url(self, index: int) -> str:
        return f"http://127.0.0.1:{RASA_PORTS[index]}"

    @property
    def actions(self) -> Process:
        return Process(("actions.server", f"--port {ACTIONS_PORT}"), f"http://127.0.0.1:{ACTIONS_PORT}/health", self)

    def log(self, name: str) -> str:
        path = self.tmp / "log" / name
        return path.read_text(errors="replace") if path.exists() else ""

    def user_messages(self, sender: str) -> list[dict]:
        """The user events stored for ``sender``, oldest first."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.pg_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
                    {"s": sender},
                ).fetchall()
        finally:
            engine.dispose()
        return [json.loads(row[0]) for row in rows]


class User:
    """One conversation over REST (through nginx unless told otherwise)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.sender = f"fault-{uuid.uuid4().hex[:12]}"
        self.http = requests.Session()

    def post(self, text: str, base: str | None = None, headers: dict | None = None) -> requests.Response:
        return self.http.post(
            f"{base or self.base}/webhooks/rest/webhook",
            json={"sender": self.sender, "message": text},
            headers=headers or {},
            timeout=60,
        )

    def say(self, text: str, base: str | None = None, headers: dict | None = None) -> str:
        response = self.post(text, base, headers)
        assert response.status_code == 200, response.text
        replies = response.json()
        assert replies, f"no reply to {text!r}"
        assert all(r.get("recipient_id") == self.sender for r in replies)
        return "\n".join(r.get("text") or "" for r in replies)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    if reason := services_missing():
        message = f"scaled-profile fault tests need PostgreSQL, Redis and nginx: {reason}"
        if os.environ.get("CI", "").lower() == "true":  # CI machines have both: missing is a failure
            pytest.fail(message)
        pytest.skip(message)
    tmp = tmp_path_factory.mktemp("scaled")
    (tmp / "log").mkdir()
    tag = secrets.token_hex(4)
    database = f"anxin_faults_{tag}"
    admin_sql(f'CREATE DATABASE "{database}"')
    from sqlalchemy.engine import make_url

    pg_url = make_url(PG_URL).set(database=database).render_as_string(hide_password=False)
    cluster = Cluster(tmp, database, pg_url, f"anxinfaults{tag}")
    env = {
        **os.environ,
        "ANXIN_PROFILE": "scaled",
        "RASA_PORT": str(NGINX_PORT),
        "RASA_BACKEND_PORTS": " ".join(map(str, RASA_PORTS)),
        "ACTIONS_PORT": str(ACTIONS_PORT),
        "WEB_PORT": str(WEB_PORT),
        "ANXIN_LOG_DIR": str(tmp / "log"),
        "ANXIN_START_TIMEOUT": str(START_TIMEOUT - 20),
        "ANXIN_ENDPOINTS": "endpoints.scaled.yml",
        "ANXIN_PG_URL": pg_url,
        "ANXIN_TRACKER_DB_URL": pg_url,
        "ANXIN_INCIDENT_DB_URL": pg_url,
        "ANXIN_REDIS_HOST": REDIS_HOST,
        "ANXIN_REDIS_PORT": str(REDIS_PORT),
        "ANXIN_REDIS_DB": "0",
        "ANXIN_REDIS_PREFIX": cluster.redis_prefix,
        "WECHAT_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        "ANXIN_RATE_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME),
        "ANXIN_ACTION_TIMEOUT": "5",
        "ANXIN_RATE_BURST": "1000",
        "ANXIN_RATE_PER_MINUTE": "100000",
        # WeChat in plain mode, no customer-service API: replies go back in the HTTP answer.
        "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_AES_KEY": "",
        "WECHAT_APPID": "",
        "WECHAT_APPSECRET": "",
        "WECHAT_CUSTOMER_API": "0",
        "WECHAT_PASSIVE_TIMEOUT": "4.5",
        "RASA_API_TOKEN": "",
    }
    log = open(tmp / "run.log", "w")
    cluster.run = subprocess.Popen(
        ["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_until(
            lambda: "is ready" in (tmp / "run.log").read_text() or cluster.run.poll() is not None,
            START_TIMEOUT,
            "run.sh (scaled) to be ready",
        )
        if cluster.run.poll() is not None:
            pytest.fail("run.sh (scaled) stopped:\n" + (tmp / "run.log").read_text()[-3000:])
        yield cluster
    finally:
        if cluster.run.poll() is None:
            cluster.run.send_signal(signal.SIGINT)
            try:
                cluster.run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        for process in [cluster.run, *cluster.started]:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
        log.close()
        try:
            admin_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'",
                f'DROP DATABASE IF EXISTS "{database}"',
            )
        finally:
            import redis

            client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
            keys = list(client.scan_iter(f"{cluster.redis_prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
