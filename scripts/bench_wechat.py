"""Benchmark of the WeChat endpoint under concurrent users. Not a test.

Starts the real servers (scripts/run.sh) on ports of their own, with the WeChat
channel pointed at a fake WeChat API on loopback (tests/fake_wechat_api.py), and
plays WeChat's servers for N users at once (own OpenID each, no think time),
each holding a multi-turn conversation: signed XML text messages (encrypted
with --safe) with unique MsgIds, POSTed to /webhooks/wechat/webhook.

Prints (and writes to var/bench/bench_wechat.json):
- per-request HTTP latency p50/p95/p99 and max: the time until WeChat would
  have its answer (one attempt, no retry, so the true tail is seen),
- how many answers were passive (XML with the reply) and how many "success"
  with the reply pushed through the customer-service API (checked at the fake
  API per OpenID at the end, waiting a bounded time),
- errors, and answers over WECHAT_PASSIVE_TIMEOUT (4.5 s) and over WeChat's 5 s
  (WeChat would have retried those).
Loopback only; every loop is bounded in count and time.

    python scripts/bench_wechat.py                 # plain mode, 10 users
    python scripts/bench_wechat.py --safe --users 20
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import queue
import random
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench import percentile  # noqa: E402
from scripts.wechat_sim import WECHAT_TIMEOUT, WeChatSim  # noqa: E402
from tests.fake_wechat_api import FakeWeChatAPI  # noqa: E402

RASA_PORT, ACTIONS_PORT = 5605, 5655
PASSIVE_TIMEOUT = 4.5
START_TIMEOUT = 330.0  # run.sh gives up after 300 s by itself
REQUEST_TIMEOUT = 20.0  # per request; far past WeChat's 5 s, to see the real tail
RUN_BUDGET = 600.0  # no new message is sent after this many seconds of the run
TOKEN, APPID, SECRET = "bench-token", "wx-bench-appid", "bench-secret"

# One multi-turn conversation of a worried parent.
CONVERSATION = [
    "你好",
    "我儿子在借呗借了钱，催收天天半夜给我打电话",
    "借呗",
    "1",
    "不还钱会坐牢吗",
    "谢谢",
]

_msg_ids = itertools.count(random.randint(10**15, 9 * 10**15))
_msg_ids_lock = threading.Lock()


def next_msg_id() -> int:
    """A MsgId unique across all simulated users."""
    with _msg_ids_lock:
        return next(_msg_ids)


@dataclass
class UserRun:
    openid: str
    latencies: list[float] = field(default_factory=list)  # ms, answered requests
    passive_ms: list[float] = field(default_factory=list)
    async_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: int = 0

    @property
    def passive(self) -> int:
        return len(self.passive_ms)

    @property
    def async_count(self) -> int:
        return len(self.async_ms)


def make_sim(url: str, aes_key: str, openid: str) -> WeChatSim:
    # One attempt: the latency of the first answer is what matters, and a retry would hide it.
    return WeChatSim(url, TOKEN, APPID, aes_key, openid=openid, timeout=REQUEST_TIMEOUT, attempts=1)


def talk(url: str, aes_key: str, turns: list[str], deadline: float, label: str = "bench") -> UserRun:
    run = UserRun(f"o-{label}-{uuid.uuid4().hex[:16]}")
    sim = make_sim(url, aes_key, run.openid)
    try:
        for text in turns:
            if time.monotonic() > deadline:
                run.skipped += 1
                continue
            start = time.perf_counter()
            try:
                result = sim.text(text, msg_id=next_msg_id())
            except Exception as error:  # connection refused, malformed or misaddressed reply
                run.errors.append(type(error).__name__)
                continue
            ms = (time.perf_counter() - start) * 1000
            if result.status == 0:
                run.errors.append(f"no answer within {REQUEST_TIMEOUT:.0f} s")
            elif result.content:
                if aes_key and not result.encrypted:
                    run.errors.append("plain reply in safe mode")
                    continue
                run.latencies.append(ms)
                run.passive_ms.append(ms)
            elif result.success_only:
                run.latencies.append(ms)
                run.async_ms.append(ms)
            else:
                run.errors.append(f"HTTP {result.status}: {result.body[:80]!r}")
    finally:
        sim.http.close()
    return run


class Servers:
    """scripts/run.sh in its own process group; its output is read by a thread."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.tail: list[str] = []
        threading.Thread(target=self._read, name="run.sh-output", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if line is None:
                return False
            self.tail = (self.tail + [line.rstrip()])[-30:]
            if "is ready" in line:
                return True
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def wait_for_pushes(fake: FakeWeChatAPI, runs: list[UserRun], timeout: float) -> dict[str, int]:
    """Texts pushed to each user once it has at least one per "success" (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    pushed = {}
    for run in runs:
        remaining = max(deadline - time.monotonic(), 0.0)
        pushed[run.openid] = len(fake.wait_for(run.openid, count=run.async_count, timeout=remaining))
    return pushed


def rounded(values: list[float], q: float) -> float | None:
    return round(percentile(values, q), 1) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10, help="concurrent WeChat users (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="conversations per user (default 2)")
    parser.add_argument("--safe", action="store_true", help="safe mode: AES-encrypted messages and replies")
    parser.add_argument("--rasa-port", type=int, default=RASA_PORT)
    parser.add_argument("--actions-port", type=int, default=ACTIONS_PORT)
    parser.add_argument(
        "--passive-timeout",
        type=float,
        default=PASSIVE_TIMEOUT,
        help="WECHAT_PASSIVE_TIMEOUT for the servers (default 4.5; lower it to exercise the push path)",
    )
    parser.add_argument("--push-wait", type=float, default=60.0, help="max seconds to wait for late pushes")
    parser.add_argument("--no-warmup", action="store_true", help="skip the uncounted warm-up conversation")
    args = parser.parse_args()
    if not 1 <= args.users <= 200 or not 1 <= args.rounds <= 20:
        parser.error("--users must be 1..200 and --rounds 1..20")
    if not 0 < args.passive_timeout <= 30 or not 0 <= args.push_wait <= 300:
        parser.error("--passive-timeout must be in (0, 30] and --push-wait in [0, 300]")

    # A 43-character EncodingAESKey, as WeChat shows it (32 random bytes in base64).
    aes_key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=") if args.safe else ""
    mode = "safe (AES)" if args.safe else "plain"
    results: dict = {"mode": mode, "users": args.users, "rounds": args.rounds}

    tmp = Path(tempfile.mkdtemp(prefix="bench-wechat-"))
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: http://localhost:{args.actions_port}/webhook\n"
        "  headers:\n    X-Anxin-Action-Secret: ${ANXIN_ACTION_SECRET}\n"  # actions/server.py
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp / 'tracker.db'}\n",
        encoding="utf-8",
    )

    with FakeWeChatAPI(0, APPID, SECRET) as fake:  # an ephemeral port on 127.0.0.1
        env = {
            **os.environ,
            "RASA_PORT": str(args.rasa_port),
            "WEB_PORT": str(args.rasa_port + 3000),  # not make run's 8080
            "ACTIONS_PORT": str(args.actions_port),
            "ANXIN_ENDPOINTS": str(endpoints),
            # The benchmark measures the bot, not the per-sender limit (channels/guard.py).
            "ANXIN_RATE_BURST": "100000",
            "ANXIN_RATE_PER_MINUTE": "1000000",
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_APPID": APPID,
            "WECHAT_APPSECRET": SECRET,
            "WECHAT_AES_KEY": aes_key,
            "WECHAT_API_BASE": fake.base,
            "WECHAT_CUSTOMER_API": "1",
            "WECHAT_PASSIVE_TIMEOUT": str(args.passive_timeout),
            # Defaults for the rest, whatever the calling shell has set.
            "WECHAT_REDIS_URL": "",
            "WECHAT_HOLD_TIMEOUT": "",
            "WECHAT_DEDUPE_TTL": "",
            "WECHAT_TEXT_LIMIT": "",
        }
        url = f"http://localhost:{args.rasa_port}/webhooks/wechat/webhook"
        print(
            f"→ starting the servers (:{args.rasa_port}, :{args.actions_port}); WeChat {mode} mode",
            flush=True,
        )
        start = time.perf_counter()
        servers = Servers(env)
        try:
            if not servers.wait_ready(START_TIMEOUT):
                print("✗ servers did not start; see var/log/")
                print("\n".join("  " + line for line in servers.tail[-10:]))
                return 1
            results["ready_s"] = round(time.perf_counter() - start, 1)
            print(f"  ready after: {results['ready_s']} s", flush=True)

            if not args.no_warmup:
                warmup = talk(url, aes_key, CONVERSATION, time.monotonic() + 120, label="warmup")
                if warmup.errors:
                    print(f"✗ warm-up failed: {warmup.errors[0]}")
                    return 1

            turns = CONVERSATION * args.rounds
            print(f"→ {args.users} users × {len(turns)} messages, concurrently", flush=True)
            deadline = time.monotonic() + RUN_BUDGET
            begin = time.perf_counter()
            with ThreadPoolExecutor(args.users) as pool:
                runs = list(
                    pool.map(lambda i: talk(url, aes_key, turns, deadline, f"u{i}"), range(args.users))
                )
            elapsed = time.perf_counter() - begin
            async_total = sum(run.async_count for run in runs)
            if async_total:
                print(f"→ waiting (≤ {args.push_wait:.0f} s) for {async_total} pushed replies", flush=True)
            pushed = wait_for_pushes(fake, runs, args.push_wait)
            refused = len(fake.refused)
        finally:
            servers.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    latencies = [x for run in runs for x in run.latencies]
    passive_ms = [x for run in runs for x in run.passive_ms]
    async_ms = [x for run in runs for x in run.async_ms]
    errors = [e for run in runs for e in run.errors]
    skipped = sum(run.skipped for run in runs)
    messages = len(latencies) + len(errors)
    missing = sum(max(run.async_count - pushed[run.openid], 0) for run in runs)
    extra = sum(max(pushed[run.openid] - run.async_count, 0) for run in runs)

    def share(count: int) -> float:
        return round(100 * count / messages, 1) if messages else 0.0

    results.update(
        {
            "messages": messages,
            "skipped": skipped,
            "elapsed_s": round(elapsed, 1),
            "messages_per_s": round(messages / elapsed, 2) if elapsed else None,
            "latency_ms": {
                "p50": rounded(latencies, 0.5),
                "p95": rounded(latencies, 0.95),
                "p99": rounded(latencies, 0.99),
                "max": round(max(latencies), 1) if latencies else None,
            },
            "passive": {"count": len(passive_ms), "share_pct": share(len(passive_ms))},
            "async": {
                "count": len(async_ms),
                "share_pct": share(len(async_ms)),
                "pushed_texts": sum(pushed.values()),
                "missing": missing,  # "success" answers whose reply never reached the fake API
                "extra_texts": extra,  # beyond one per "success": long replies sent in pieces
                "refused_by_api": refused,
            },
            "passive_p95_ms": rounded(passive_ms, 0.95),
            "over_passive_timeout": sum(x > args.passive_timeout * 1000 for x in latencies),
            "over_wechat_5s": sum(x > WECHAT_TIMEOUT * 1000 for x in latencies),
            "errors": len(errors) + missing,  # failed requests + replies never pushed
            "error_kinds": sorted(set(errors)),
            "passive_timeout_s": args.passive_timeout,
        }
    )
    lat, a = results["latency_ms"], results["async"]
    print(f"  mode: {mode}; users: {args.users}; messages: {messages} ({results['messages_per_s']} msg/s)")
    print(f"  latency: p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")
    print(f"  passive replies: {results['passive']['count']} ({results['passive']['share_pct']} %)")
    print(
        f"  async (success + customer-service API): {a['count']} ({a['share_pct']} %); "
        f"pushed texts {a['pushed_texts']}, missing {a['missing']}"
    )
    print(
        f"  answers over {args.passive_timeout} s: {results['over_passive_timeout']}; "
        f"over WeChat's {WECHAT_TIMEOUT:.0f} s: {results['over_wechat_5s']}"
    )
    print(
        f"  errors: {results['errors']} (failed requests {len(errors)}, replies never pushed {missing})"
        + (f" {results['error_kinds']}" if errors else "")
    )
    if skipped:
        print(f"  ✗ {skipped} messages not sent: the run took over {RUN_BUDGET:.0f} s")

    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_wechat.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"→ written to {out / 'bench_wechat.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
