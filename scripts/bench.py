"""Benchmark: training time, ready time, REST latency and memory. Not a test.

Prints numbers (and writes them to var/bench/bench.json):
- training time of the current data (a forced retrain into a scratch folder;
  skip with --skip-train),
- seconds from start until both servers answer,
- per-message REST latency p50/p95, sequential and with N concurrent
  conversations (no think time), and messages per second,
- resident memory (RSS) of the Rasa server and the action server.
Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
RASA_PORT, ACTIONS_PORT = 5205, 5255

# One multi-turn conversation of a worried parent, in varied wording.
CONVERSATION = [
    "你好",
    "我儿子在借呗借了钱，催收天天半夜给我打电话",
    "借呗",
    "1",
    "那我可以去哪里投诉",
    "不还钱会坐牢吗",
    "我老公欠的钱我要还吗",
    "谢谢你",
]


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def rss_mb(pattern: str) -> float:
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if pattern in cmd and "bench.py" not in cmd:
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def talk(base: str, turns: list[str]) -> list[float]:
    sender = f"bench-{uuid.uuid4().hex[:8]}"
    latencies = []
    with requests.Session() as session:
        for text in turns:
            start = time.perf_counter()
            response = session.post(
                f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
            )
            response.raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def train_time() -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rasa", "train", "--domain", "domain", "--force", "--out", out, "--quiet"],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--rounds", type=int, default=5, help="sequential conversations")
    parser.add_argument("--users", type=int, default=10, help="concurrent conversations")
    args = parser.parse_args()
    results: dict = {}

    if not args.skip_train:
        print("→ timing a full training run …", flush=True)
        results["train_s"] = round(train_time(), 1)
        print(f"  training: {results['train_s']} s")

    tmp = Path(tempfile.mkdtemp())
    # endpoints.yml as `make run` uses it (two workers, file locks), its files in tmp.
    endpoints = tmp / "endpoints.yml"
    text = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    for name in ("var/tracker.db", "var/locks"):
        text = text.replace(name, str(tmp / Path(name).name))
    endpoints.write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        "RASA_PORT": str(RASA_PORT),
        "WEB_PORT": str(RASA_PORT + 3000),  # not make run's 8080
        "ACTIONS_PORT": str(ACTIONS_PORT),
        "ANXIN_ENDPOINTS": str(endpoints),
        "ANXIN_STATE_DB": str(tmp / "state.db"),
        # The benchmark measures the bot, not the per-sender limit (channels/guard.py).
        "ANXIN_RATE_BURST": "100000",
        "ANXIN_RATE_PER_MINUTE": "1000000",
    }
    start = time.perf_counter()
    server = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for line in server.stdout:
            if "is ready" in line:
                break
        else:
            print("✗ servers did not start; see var/log/")
            return 1
        results["ready_s"] = round(time.perf_counter() - start, 1)
        print(f"  ready after: {results['ready_s']} s")
        base = f"http://localhost:{RASA_PORT}"
        talk(base, CONVERSATION)  # warm-up

        sequential = []
        for _ in range(args.rounds):
            sequential += talk(base, CONVERSATION)
        results["sequential"] = {
            "messages": len(sequential),
            "p50_ms": round(percentile(sequential, 0.5), 1),
            "p95_ms": round(percentile(sequential, 0.95), 1),
        }
        print(
            f"  sequential: p50 {results['sequential']['p50_ms']} ms, p95 {results['sequential']['p95_ms']} ms"
        )

        begin = time.perf_counter()
        with ThreadPoolExecutor(args.users) as pool:
            runs = list(pool.map(lambda _: talk(base, CONVERSATION * 2), range(args.users)))
        elapsed = time.perf_counter() - begin
        concurrent = [x for run in runs for x in run]
        results["concurrent"] = {
            "users": args.users,
            "messages": len(concurrent),
            "p50_ms": round(percentile(concurrent, 0.5), 1),
            "p95_ms": round(percentile(concurrent, 0.95), 1),
            "messages_per_s": round(len(concurrent) / elapsed, 1),
        }
        c = results["concurrent"]
        print(
            f"  {args.users} concurrent: p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, {c['messages_per_s']} msg/s"
        )
        results["rss_mb"] = {
            "rasa": round(rss_mb("rasa run --model"), 0),
            "actions": round(rss_mb("actions.server"), 0),
        }
        print(f"  RSS: rasa {results['rss_mb']['rasa']} MB, actions {results['rss_mb']['actions']} MB")
        print(f"  (median of sequential {statistics.median(sequential):.1f} ms)")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    print(f"→ written to {out / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
