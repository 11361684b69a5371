"""Load benchmark: many users at once, our bot against a plain `rasa init` bot. Not a test.

For each target it starts the servers on ports of its own, then for each
level of N simulated users (default 1, 10 and 50) lets every user hold
multi-turn Chinese conversations at once, with no think time: through REST,
and every fifth user through the WeChat webhook (signed XML, as
scripts/wechat_sim.py; late replies are pushed to a fake WeChat API on
loopback). Targets:

- ``plain``: `rasa init --no-prompt` (the mood bot, trained once and cached
  in ~/.cache/anxin/plain-rasa), one process, in-memory tracker store, the
  same number of (English) turns, REST only;
- ``embedded``: `make run` as it is (scripts/run.sh with endpoints.yml: SQLite, two
  Sanic workers sharing locks and state through files), its files in a temporary folder;
- ``scaled``: `make run-scaled` (two Rasa processes behind nginx,
  PostgreSQL and Redis), on a database and Redis key prefix of its own,
  dropped afterwards. Skipped, saying why, when PostgreSQL, Redis or nginx
  (make setup-nginx) is absent.

Prints per target and level: messages, throughput, latency p50/p95/p99/max,
errors, cross-talk, unexpected replies, WeChat answers later than 4.5 s, RSS
and PSS of every process, the load average; then our latency as a ratio to
plain Rasa, and each target of issue #16 (``TARGETS``: embedded p95 at 10
users, its ratio to plain, its throughput, its total RSS; scaled p99 at 50
users) with its value and whether it is met. Writes var/bench/bench_load.json and var/bench/bench_load.png (latency
distributions). Loopback only; bounded in messages (``--messages`` per level)
and time (``--level-seconds`` per level, 30 s per request).

**Cross-talk check.** Each user is one of 24 personas (8 lenders × 3 roles:
parent, spouse, borrower). The answer to "那我可以去哪里投诉" names the
lender's company and the answer to "家里人要替他还钱吗" depends on the role,
both read from the conversation's stored slots. A reply that contains another
persona's company or role answer is cross-talk; every REST reply must also be
addressed to its own sender, and every WeChat reply to its own OpenID. (Two
users with the same persona cannot be told apart; with 24 personas spread
evenly, a mix-up between any two users is caught 23 times out of 24.)

    python scripts/bench_load.py                          # plain, embedded, scaled; 1, 10, 50 users
    python scripts/bench_load.py --targets scaled --users 10,50
    python scripts/bench_load.py --attach http://localhost:5005 --users 10   # a bot already running
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.wechat_sim import WeChatSim  # noqa: E402
from tests.fake_wechat_api import FakeWeChatAPI  # noqa: E402

OUT = ROOT / "var" / "bench"
CACHE = Path(os.environ.get("ANXIN_CACHE", Path.home() / ".cache" / "anxin"))
PY = sys.executable
PORTS = {
    "embedded": {"RASA_PORT": "5315", "ACTIONS_PORT": "5365", "WEB_PORT": "8315"},
    "scaled": {
        "RASA_PORT": "5390",
        "ACTIONS_PORT": "5366",
        "WEB_PORT": "8390",
        "RASA_BACKEND_PORTS": "5391 5392",
    },
}
PLAIN_PORT = 5325
REQUEST_TIMEOUT = 30.0
PASSIVE_TIMEOUT = 4.5
START_TIMEOUT = 420.0
TOKEN, APPID, APPSECRET = "bench-token", "wx-bench-appid", "bench-secret"
ADMIN_PG_URL = os.environ.get("ANXIN_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_HOST = os.environ.get("ANXIN_BENCH_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("ANXIN_BENCH_REDIS_PORT", "6379"))

# --- who the simulated users are -------------------------------------------------------------------

LENDER_WORDS = {  # knowledge key → what a user types
    "ant_consumer_finance": "借呗",
    "webank": "微粒贷",
    "mybank": "网商贷",
    "jd_microloan": "京东白条",
    "meituan_microloan": "美团月付",
    "duxiaoman_microloan": "有钱花",
    "zhaolian": "好期贷",
    "mashang": "安逸花",
}
ROLE_WORDS = {"parent": "我儿子", "spouse": "我老公", "borrower": "我"}
PLAIN_TURNS = ["hello", "I am feeling very sad today", "yes", "are you a bot?", "I feel great now", "bye"]


@dataclass(frozen=True)
class Persona:
    lender: str
    role: str
    company: str  # appears in the answer on where to complain
    role_mark: str  # the start of the answer on family liability

    def turns(self) -> list[str]:
        return [
            "你好",
            f"{ROLE_WORDS[self.role]}在{LENDER_WORDS[self.lender]}借了钱，催收天天半夜打电话骚扰",
            "那我可以去哪里投诉",
            "家里人要替他还钱吗",
            "不还钱会坐牢吗",
            "谢谢",
        ]

    # turn index → what its reply must contain
    def expected(self) -> dict[int, str]:
        return {2: self.company, 3: self.role_mark}


def personas() -> list[Persona]:
    import knowledge
    from advisor import replies

    lenders = knowledge.load().data["lenders"]
    marks = {role: replies.family_liability(role).bubbles[0][:24] for role in ROLE_WORDS}
    found = []
    for role, lender in itertools.product(ROLE_WORDS, LENDER_WORDS):
        # The first company named: "招联消费金融股份有限公司", or the one in brackets of
        # "借款协议上写明的放款机构（重庆美团三快小额贷款有限公司或合作银行）".
        legal = lenders[lender]["legal_name"]
        named = re.search(r"[\u4e00-\u9fff]+?(?:有限公司|有限责任公司)", legal)
        company = named.group(0) if named else re.split(r"[或（(]", legal)[0]
        found.append(Persona(lender, role, company, marks[role]))
    return found


def foreign_marks(persona: Persona, everyone: list[Persona]) -> set[str]:
    marks = {p.company for p in everyone if p.company != persona.company}
    marks |= {p.role_mark for p in everyone if p.role_mark != persona.role_mark}
    return marks


# --- one user ---------------------------------------------------------------------------------------


@dataclass
class Sample:
    target: str
    users: int
    channel: str
    start_s: float  # since the level began
    ms: float
    ok: bool
    late: bool = False  # WeChat: answered "success", reply pushed later
    error: str = ""


@dataclass
class UserLog:
    samples: list[Sample] = field(default_factory=list)
    cross_talk: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wechat: list[tuple[str, Persona, int]] = field(default_factory=list)  # openid, persona, late count


def check_reply(log: UserLog, persona: Persona | None, everyone: list[Persona], turn: int, text: str) -> None:
    if persona is None:
        return
    for mark in foreign_marks(persona, everyone):
        if mark in text:
            log.cross_talk.append(f"{persona.lender}/{persona.role} turn {turn}: found {mark!r}")
    want = persona.expected().get(turn)
    if want and want not in text:
        log.unexpected.append(f"{persona.lender}/{persona.role} turn {turn}: {text[:80]!r}")


def rest_conversation(base, target, users, persona, turns, everyone, t0, deadline, log) -> None:
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    with requests.Session() as http:
        for turn, text in enumerate(turns):
            if time.monotonic() > deadline:
                return
            start = time.perf_counter()
            error, reply = "", ""
            try:
                answer = http.post(
                    f"{base}/webhooks/rest/webhook",
                    json={"sender": sender, "message": text},
                    timeout=REQUEST_TIMEOUT,
                )
                if answer.status_code != 200:
                    error = f"HTTP {answer.status_code}"
                else:
                    items = answer.json()
                    if not items:
                        error = "empty reply"
                    for item in items:
                        if item.get("recipient_id") != sender:
                            log.cross_talk.append(f"reply addressed to {item.get('recipient_id')!r}")
                    reply = "\n".join(item.get("text") or "" for item in items)
            except Exception as exc:
                error = type(exc).__name__
            ms = (time.perf_counter() - start) * 1000
            log.samples.append(Sample(target, users, "rest", start - t0, ms, not error, error=error))
            if not error:
                check_reply(log, persona, everyone, turn, reply)


_msg_ids = itertools.count(random.randint(10**15, 9 * 10**15))
_msg_ids_lock = threading.Lock()


def wechat_turns(sim, target, users, persona, everyone, t0, deadline, log) -> None:
    late = 0
    try:
        for turn, text in enumerate(persona.turns()):
            if time.monotonic() > deadline:
                break
            with _msg_ids_lock:
                msg_id = next(_msg_ids)
            start = time.perf_counter()
            error, is_late = "", False
            try:
                result = sim.text(text, msg_id=msg_id)
                if result.status == 0:
                    error = "timeout"
                elif result.content:
                    check_reply(log, persona, everyone, turn, result.content)
                elif result.success_only:
                    is_late = True
                    late += 1
                else:
                    error = f"HTTP {result.status}"
            except ValueError as exc:  # a reply addressed to someone else
                log.cross_talk.append(f"wechat: {exc}")
                error = "misaddressed"
            except Exception as exc:
                error = type(exc).__name__
            ms = (time.perf_counter() - start) * 1000
            log.samples.append(Sample(target, users, "wechat", start - t0, ms, not error, is_late, error))
    finally:
        sim.http.close()
        log.wechat.append((sim.openid, persona, late))


def wechat_conversation(url, target, users, persona, everyone, t0, deadline, log) -> None:
    sim = WeChatSim(
        url, TOKEN, APPID, "", openid=f"o-bench-{uuid.uuid4().hex[:16]}", timeout=REQUEST_TIMEOUT, attempts=1
    )
    wechat_turns(sim, target, users, persona, everyone, t0, deadline, log)


# --- one level: N users at once ---------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 1)


def run_level(target, base, users, messages, level_seconds, wechat_every, everyone, plain, fake, session=None) -> dict:
    turns_per_conversation = len(PLAIN_TURNS) if plain else len(everyone[0].turns())
    rounds = max(1, math.ceil(messages / (users * turns_per_conversation)))
    logs = [UserLog() for _ in range(users)]
    t0 = time.perf_counter()
    deadline = time.monotonic() + level_seconds
    load_before = os.getloadavg()
    cpu_before = cpu_seconds(session)

    def user(index: int) -> None:
        for r in range(rounds):
            persona = None if plain else everyone[(index + r * users) % len(everyone)]
            if not plain and wechat_every and index % wechat_every == wechat_every - 1:
                wechat_conversation(
                    f"{base}/webhooks/wechat/webhook",
                    target,
                    users,
                    persona,
                    everyone,
                    t0,
                    deadline,
                    logs[index],
                )
            else:
                turns = PLAIN_TURNS if plain else persona.turns()
                rest_conversation(base, target, users, persona, turns, everyone, t0, deadline, logs[index])

    with ThreadPoolExecutor(users) as pool:
        list(pool.map(user, range(users)))
    cpu_after = cpu_seconds(session)
    samples = [s for log in logs for s in log.samples]
    elapsed = max((s.start_s + s.ms / 1000 for s in samples), default=0.0)
    cross = [c for log in logs for c in log.cross_talk]
    unexpected = [u for log in logs for u in log.unexpected]
    # Late WeChat replies: pushed through the (fake) customer-service API; check whose they are.
    pushed_missing = 0
    for log in logs:
        for openid, persona, late in log.wechat:
            if late and fake is not None:
                texts = fake.wait_for(openid, count=late, timeout=30)
                pushed_missing += max(late - len(texts), 0)
                for text in texts:
                    for mark in foreign_marks(persona, everyone):
                        if mark in text:
                            cross.append(f"wechat push to {persona.lender}/{persona.role}: found {mark!r}")
    ok = [s.ms for s in samples if s.ok]
    result = {
        "target": target,
        "users": users,
        "rounds": rounds,
        "messages": len(samples),
        "answered": len(ok),
        "seconds": round(elapsed, 2),
        "messages_per_s": round(len(ok) / elapsed, 1) if elapsed else None,
        "p50_ms": percentile(ok, 0.50),
        "p95_ms": percentile(ok, 0.95),
        "p99_ms": percentile(ok, 0.99),
        "max_ms": round(max(ok), 1) if ok else None,
        "errors": sum(not s.ok for s in samples),
        "error_kinds": sorted({s.error for s in samples if s.error}),
        "cross_talk": len(cross),
        "cross_talk_examples": cross[:5],
        "unexpected_replies": len(unexpected),
        "unexpected_examples": unexpected[:5],
        "wechat_messages": sum(s.channel == "wechat" for s in samples),
        "wechat_late": sum(s.late for s in samples),
        "wechat_pushes_missing": pushed_missing,
        # CPU milliseconds per answered message, per kind of process ("client": this script)
        "cpu_ms_per_message": {
            k: round((cpu_after[k] - cpu_before.get(k, 0.0)) * 1000 / max(len(ok), 1), 1) for k in cpu_after
        },
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "latencies_ms": [round(x, 1) for x in ok],
    }
    return result


# --- processes --------------------------------------------------------------------------------------


KINDS = {
        "serving.server": "rasa",
        "rasa run": "rasa",
        "actions.server": "actions",
        "rasa_sdk": "actions",
        "nginx: ": "nginx",  # its master and worker processes' titles
        "web_server.py": "web",
}


def session_processes(session_id: int):
    """(kind, /proc path) of each process of ours in a session."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[3]) != session_id:
                continue
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        kind = next((v for k, v in KINDS.items() if k in cmd), None)
        if kind is not None:
            yield kind, proc


def cpu_seconds(session_id: int | None) -> dict[str, float]:
    """CPU time (user + system) used so far by each kind of process in a session, and by this one."""
    totals: dict[str, float] = {"client": time.process_time()}
    if session_id is None:
        return totals
    tick = os.sysconf("SC_CLK_TCK")
    for kind, proc in session_processes(session_id):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            totals[kind] = totals.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    # The databases are shared services (other users' load counts too, if any).
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            kind = "postgres" if comm.startswith("postgres") else "redis" if comm.startswith("redis-server") else None
            if kind:
                fields = stat.rsplit(")", 1)[1].split()
                totals[kind] = totals.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return totals


def rss_by_command(session_id: int) -> dict[str, float]:
    """RSS (MB) of every process in a session, summed per kind."""
    totals: dict[str, float] = {}
    for kind, proc in session_processes(session_id):
        try:
            rss = next(
                int(x.split()[1])
                for x in (proc / "status").read_text().splitlines()
                if x.startswith("VmRSS:")
            )
            totals[kind] = totals.get(kind, 0) + rss / 1024
        except (OSError, StopIteration, ValueError):
            continue
    totals = {k: round(v) for k, v in sorted(totals.items())}
    totals["total"] = sum(totals.values())
    return totals


def pss_by_command(session_id: int) -> dict[str, float]:
    """PSS (MB) per kind: shared pages (the Sanic workers share what their parent
    imported, and every process the libraries) counted once in all, not once per process."""
    totals: dict[str, float] = {}
    for kind, proc in session_processes(session_id):
        try:
            pss = next(
                int(x.split()[1]) for x in (proc / "smaps_rollup").read_text().splitlines() if x.startswith("Pss:")
            )
            totals[kind] = totals.get(kind, 0) + pss / 1024
        except (OSError, StopIteration, ValueError):
            continue
    totals = {k: round(v) for k, v in sorted(totals.items())}
    totals["total"] = sum(totals.values())
    return totals


# What issue #16 asks of the embedded profile (without Redis) and of the scaled one.
TARGETS = {
    "embedded_p95_10_ms": 400.0,
    "embedded_p95_10_vs_plain": 0.7,
    "embedded_msgs_per_s_10": 40.0,
    "embedded_rss_total_mb": 1536.0,
    "scaled_p99_50_ms": 2000.0,
}


def check_targets(levels: list[dict], rss: dict, pss: dict) -> list[dict]:
    """Each target: its value (None when not measured), its limit, and whether it is met."""
    by = {(r["target"], r["users"]): r for r in levels}
    emb, plain, scaled = by.get(("embedded", 10)), by.get(("plain", 10)), by.get(("scaled", 50))
    ratio = None
    if emb and plain and emb["p95_ms"] and plain["p95_ms"]:
        ratio = round(emb["p95_ms"] / plain["p95_ms"], 2)
    values = {
        "embedded_p95_10_ms": emb and emb["p95_ms"],
        "embedded_p95_10_vs_plain": ratio,
        "embedded_msgs_per_s_10": emb and emb["messages_per_s"],
        "embedded_rss_total_mb": rss.get("embedded", {}).get("total"),
        "scaled_p99_50_ms": scaled and scaled["p99_ms"],
    }
    rows = []
    for name, limit in TARGETS.items():
        value = values[name]
        higher_is_better = name.startswith("embedded_msgs")
        met = None if value is None else (value >= limit if higher_is_better else value <= limit)
        rows.append({"target": name, "value": value, "limit": limit, "at_least" if higher_is_better else "at_most": limit, "met": met})
    if "embedded" in pss:
        rows.append({"target": "embedded_pss_total_mb (information)", "value": pss["embedded"]["total"], "met": None})
    return rows


class Started:
    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self.log = open(log, "w")
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, url: str, timeout: float, marker: str | None = None) -> bool:
        """Ready when ``marker`` is in the log (scripts/run.sh says "is ready"), else when ``url`` answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if marker is not None:
                self.log.flush()
                if marker in self.log_path.read_text(errors="replace"):
                    return True
            elif url_ok(url):
                return True
            time.sleep(1)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # anything left in the session (a Rasa process nginx already lost, for instance)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        self.log.close()


def url_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def base_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONWARNINGS": "ignore",
        "TF_INTER_OP_PARALLELISM_THREADS": os.environ.get("TF_INTER_OP_PARALLELISM_THREADS", "1"),
        "TF_INTRA_OP_PARALLELISM_THREADS": os.environ.get("TF_INTRA_OP_PARALLELISM_THREADS", "1"),
    }


def our_env(tmp: Path, fake: FakeWeChatAPI) -> dict[str, str]:
    return {
        **base_env(),
        "ANXIN_LOG_DIR": str(tmp / "log"),
        "ANXIN_START_TIMEOUT": str(int(START_TIMEOUT) - 20),
        # The benchmark measures the bot, not the per-sender limit (which still runs).
        "ANXIN_RATE_BURST": "100000",
        "ANXIN_RATE_PER_MINUTE": "1000000",
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APPID": APPID,
        "WECHAT_APPSECRET": APPSECRET,
        "WECHAT_AES_KEY": "",
        "WECHAT_API_BASE": fake.base,
        "WECHAT_CUSTOMER_API": "1",
        "WECHAT_PASSIVE_TIMEOUT": str(PASSIVE_TIMEOUT),
    }


def start_embedded(tmp: Path, fake: FakeWeChatAPI) -> tuple[Started, str]:
    ports = PORTS["embedded"]
    # endpoints.yml as it is (`make run`), its files (conversations, locks) in tmp.
    endpoints = tmp / "endpoints.yml"
    text = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    for name in ("var/tracker.db", "var/locks"):
        if name not in text:
            raise SystemExit(f"endpoints.yml no longer names {name}: update start_embedded()")
        text = text.replace(name, str(tmp / Path(name).name))
    endpoints.write_text(text, encoding="utf-8")
    env = {
        **our_env(tmp, fake),
        **ports,
        "ANXIN_ENDPOINTS": str(endpoints),
        "ANXIN_INCIDENT_DB_URL": f"sqlite:///{tmp / 'incidents.db'}",
        "ANXIN_STATE_DB": str(tmp / "state.db"),
        "WECHAT_REDIS_URL": "",
        "ANXIN_RATE_REDIS_URL": "",
        "RASA_BACKEND_PORTS": "",
        "ANXIN_PROFILE": "embedded",
    }
    (tmp / "log").mkdir(exist_ok=True)
    return Started(
        ["bash", "scripts/run.sh"], ROOT, env, tmp / "run.log"
    ), f"http://127.0.0.1:{ports['RASA_PORT']}"


def scaled_available() -> str | None:
    """None when PostgreSQL and Redis answer and nginx is here, else why not."""
    from sqlalchemy.engine import make_url

    from serving.nginx_conf import find_nginx
    from serving.preflight import Check, run_check

    if not find_nginx():
        return "nginx is not installed (make setup-nginx)"
    url = make_url(ADMIN_PG_URL)
    if reason := run_check(Check("bench", "sql", url, str(url)), 3):
        return f"PostgreSQL at {url.render_as_string(hide_password=True)}: {reason}"
    if reason := run_check(Check("bench", "redis", {"host": REDIS_HOST, "port": REDIS_PORT, "db": 0}, ""), 3):
        return f"Redis at {REDIS_HOST}:{REDIS_PORT}: {reason}"
    return None


def admin_sql(statements: list[str]) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def start_scaled(tmp: Path, fake: FakeWeChatAPI, tag: str) -> tuple[Started, str]:
    from sqlalchemy.engine import make_url

    database = f"anxin_bench_{tag}"
    admin_sql([f'CREATE DATABASE "{database}"'])
    pg_url = make_url(ADMIN_PG_URL).set(database=database).render_as_string(hide_password=False)
    ports = PORTS["scaled"]
    env = {
        **our_env(tmp, fake),
        **ports,
        "ANXIN_PROFILE": "scaled",
        "ANXIN_ENDPOINTS": "endpoints.scaled.yml",
        "ANXIN_PG_URL": pg_url,
        "ANXIN_TRACKER_DB_URL": pg_url,
        "ANXIN_INCIDENT_DB_URL": pg_url,
        "ANXIN_REDIS_HOST": REDIS_HOST,
        "ANXIN_REDIS_PORT": str(REDIS_PORT),
        "ANXIN_REDIS_DB": "0",
        "ANXIN_REDIS_PREFIX": f"anxinbench{tag}",
        "WECHAT_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        "ANXIN_RATE_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
    }
    (tmp / "log").mkdir(exist_ok=True)
    return Started(
        ["bash", "scripts/run.sh"], ROOT, env, tmp / "run.log"
    ), f"http://127.0.0.1:{ports['RASA_PORT']}"


def drop_scaled(tag: str) -> None:
    database = f"anxin_bench_{tag}"
    try:
        admin_sql(
            [
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'",
                f'DROP DATABASE IF EXISTS "{database}"',
            ]
        )
    except Exception as error:
        print(f"  (could not drop database {database}: {error})")
    try:
        import redis

        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
        keys = list(client.scan_iter(f"anxinbench{tag}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    except Exception:
        pass


def plain_model() -> tuple[Path, Path]:
    """The project dir and model of `rasa init --no-prompt`, trained once and cached."""
    project = CACHE / "plain-rasa"
    models = sorted((project / "models").glob("*.tar.gz"))
    if not models:
        print(
            f"→ creating and training a plain `rasa init` bot in {project} (once; a few minutes) …",
            flush=True,
        )
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        subprocess.run(
            [PY, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(project)],
            cwd=project,
            env=base_env(),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=1800,
        )
        models = sorted((project / "models").glob("*.tar.gz"))
    return project, models[-1]


def start_plain(tmp: Path) -> tuple[Started, str]:
    project, model = plain_model()
    command = [PY, "-m", "rasa", "run", "--model", str(model), "--port", str(PLAIN_PORT), "-i", "127.0.0.1"]
    command += ["--credentials", str(project / "credentials.yml")]
    return Started(command, project, base_env(), tmp / "plain.log"), f"http://127.0.0.1:{PLAIN_PORT}"


# --- report -----------------------------------------------------------------------------------------


def show(result: dict) -> None:
    def f(x, unit=""):
        return "–" if x is None else f"{x:.0f}{unit}"

    print(
        f"  {result['target']:<9}{result['users']:>4} users {result['answered']:>5}/{result['messages']:<5} "
        f"{f(result['messages_per_s'])} msg/s  p50 {f(result['p50_ms'])}  p95 {f(result['p95_ms'])}  "
        f"p99 {f(result['p99_ms'])}  max {f(result['max_ms'])} ms  errors {result['errors']}  "
        f"cross-talk {result['cross_talk']}  unexpected {result['unexpected_replies']}"
        + (
            f"  wechat {result['wechat_messages']} ({result['wechat_late']} late)"
            if result["wechat_messages"]
            else ""
        )
        + f"  load {result['load_avg_before'][0]:.1f}→{result['load_avg_after'][0]:.1f}"
        + "  CPU ms/msg "
        + " ".join(f"{k} {v:.0f}" for k, v in result["cpu_ms_per_message"].items()),
        flush=True,
    )
    for example in result["cross_talk_examples"] + result["unexpected_examples"][:2]:
        print(f"      {example}")


def ratios(levels: list[dict]) -> list[dict]:
    plain = {r["users"]: r for r in levels if r["target"] == "plain"}
    out = []
    for r in levels:
        base = plain.get(r["users"])
        if r["target"] == "plain" or not base:
            continue
        row = {"target": r["target"], "users": r["users"]}
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            if r[key] and base[key]:
                row[key.replace("_ms", "")] = round(r[key] / base[key], 2)
        if r["messages_per_s"] and base["messages_per_s"]:
            row["throughput"] = round(r["messages_per_s"] / base["messages_per_s"], 2)
        out.append(row)
    return out


def plot(levels: list[dict], path: Path) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    user_levels = sorted({r["users"] for r in levels})
    fig, axes = plt.subplots(1, len(user_levels), figsize=(5 * len(user_levels), 4.2), squeeze=False)
    colors = {"plain": "tab:gray", "embedded": "tab:blue", "scaled": "tab:green", "attached": "tab:purple"}
    for ax, users in zip(axes[0], user_levels, strict=True):
        for r in (r for r in levels if r["users"] == users):
            values = sorted(r["latencies_ms"])
            if not values:
                continue
            ys = [(i + 1) / len(values) for i in range(len(values))]
            label = f"{r['target']} (p95 {r['p95_ms']:.0f} ms, {r['messages_per_s']} msg/s)"
            ax.step(values, ys, where="post", label=label, color=colors.get(r["target"]))
        ax.axvline(4500, color="tab:red", linestyle=":", linewidth=1)
        ax.text(4500, 0.5, "4.5 s ", color="tab:red", fontsize=8, ha="right")
        ax.set_xscale("log")
        ax.set_title(f"{users} concurrent user{'s' if users > 1 else ''}")
        ax.set_xlabel("latency per message (ms, log)")
        ax.set_ylabel("share of messages answered")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("安心 load benchmark: latency CDF (no think time, loopback)".replace("安心 ", "anxin "))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main -------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--targets", default="plain,embedded,scaled", help="comma-separated: plain, embedded, scaled"
    )
    parser.add_argument("--users", default="1,10,50", help="comma-separated levels of concurrent users")
    parser.add_argument(
        "--messages", type=int, default=600, help="about this many messages per level (600: a steady p99)"
    )
    parser.add_argument("--level-seconds", type=float, default=120.0, help="no new message after this long")
    parser.add_argument(
        "--wechat-every", type=int, default=5, help="every n-th user talks over WeChat (0: none)"
    )
    parser.add_argument("--attach", help="benchmark a bot already running at this URL (no servers started)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    levels = [int(x) for x in args.users.split(",") if x.strip()]
    if args.attach:
        args.wechat_every = 0  # the running bot's WeChat token is not known here
    targets = ["attached"] if args.attach else [t.strip() for t in args.targets.split(",") if t.strip()]
    everyone = personas()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "settings": {k: v for k, v in vars(args).items()},
        "levels": [],
        "rss_mb": {},
        "pss_mb": {},
        "ready_s": {},
        "skipped": {},
    }
    print(
        f"→ load benchmark: targets {', '.join(targets)}; users {levels}; ~{args.messages} messages per level; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    tag = secrets.token_hex(4)
    with FakeWeChatAPI(0, APPID, APPSECRET) as fake:
        for target in targets:
            tmp = Path(tempfile.mkdtemp(prefix=f"anxin-bench-{target}-"))
            server = None
            created_database = False
            try:
                if target == "attached":
                    base = args.attach.rstrip("/")
                elif target == "scaled" and (why := scaled_available()):
                    print(f"  scaled: skipped ({why})")
                    results["skipped"]["scaled"] = why
                    continue
                else:
                    start = time.monotonic()
                    print(f"→ {target}: starting …", flush=True)
                    if target == "plain":
                        server, base = start_plain(tmp)
                    elif target == "embedded":
                        server, base = start_embedded(tmp, fake)
                    else:
                        created_database = True  # (dropped in finally, even if it fails to start)
                        server, base = start_scaled(tmp, fake, tag)
                    marker = None if target == "plain" else "is ready"
                    if not server.wait_ready(f"{base}/", START_TIMEOUT, marker):
                        print(f"  ✗ {target} did not start; log: {server.log_path}")
                        print(
                            "    "
                            + "\n    ".join(server.log_path.read_text(errors="replace").splitlines()[-15:])
                        )
                        results["skipped"][target] = "did not start"
                        continue
                    results["ready_s"][target] = round(time.monotonic() - start, 1)
                    print(f"  ready after {results['ready_s'][target]} s", flush=True)
                plain = target == "plain"
                # Warm-up: a few conversations, not counted.
                run_level(target, base, 2, 12, 60, 0, everyone, plain, None)
                for users in levels:
                    result = run_level(
                        target, base, users, args.messages, args.level_seconds,
                        0 if plain else args.wechat_every, everyone, plain, fake,
                        server.process.pid if server else None,
                    )  # fmt: skip
                    results["levels"].append(result)
                    show(result)
                if server is not None:
                    results["rss_mb"][target] = rss_by_command(server.process.pid)
                    print(f"  RSS (MB) after the run: {results['rss_mb'][target]}", flush=True)
                    results["pss_mb"][target] = pss_by_command(server.process.pid)
                    print(f"  PSS (MB, shared pages counted once): {results['pss_mb'][target]}", flush=True)
            finally:
                if server is not None:
                    server.stop()
                if created_database:
                    drop_scaled(tag)
                shutil.rmtree(tmp, ignore_errors=True)

    results["ratio_to_plain"] = ratios(results["levels"])
    if results["ratio_to_plain"]:
        print(
            "→ our latency as a ratio to plain `rasa init` (lower is better; throughput: higher is better):"
        )
        for row in results["ratio_to_plain"]:
            print("  " + "  ".join(f"{k} {v}" for k, v in row.items()))
    results["targets"] = check_targets(results["levels"], results["rss_mb"], results["pss_mb"])
    print(f"→ targets (issue #16; load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs):")
    for row in results["targets"]:
        limit = (f"≥ {row['at_least']:g}" if "at_least" in row else f"≤ {row['at_most']:g}") if "limit" in row else ""
        mark = {True: "✓ met", False: "✗ NOT met", None: "– not measured" if "limit" in row else ""}[row["met"]]
        print(f"  {row['target']:<36} {'–' if row['value'] is None else row['value']:>8} {limit:<10} {mark}")
    results["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    (out / "bench_load.json").write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    try:
        plot(results["levels"], out / "bench_load.png")
        print(f"→ written: {out / 'bench_load.json'}, {out / 'bench_load.png'}")
    except Exception as error:  # the numbers matter more than the picture
        print(f"→ written: {out / 'bench_load.json'} (no plot: {error})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
