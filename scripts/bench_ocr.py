"""OCR speed and memory for evidence screenshots (issue #15 §5): `make bench-ocr`.

Draws two 1080×2400 screens (a call log and an SMS conversation, evidence.samples),
loads the engine once, reads each screen N times and prints the time per
screenshot (p50, p95), the engine's load time and the RSS it added (after the
reads, so onnxruntime's working memory is counted), against the targets:
p95 ≤ 3 s per screenshot and ≤ 400 MB added RSS. Not a test: the numbers
depend on the machine (`nproc` is printed).

``--chat`` also measures what uploads cost the other users: it starts the
embedded bot (scripts/run.sh as `make run` starts it: two Sanic workers, SQLite,
its files in a temporary folder, ports 5705/5755/8705; needs a trained model,
models/current), or uses one already running (``--attach URL``), and lets
``--chatters`` users hold REST conversations with no think time, first alone,
then while ``--uploaders`` other users upload 1080×2400 screenshots back to back
through /webhooks/evidence/upload (each upload is stored and read by OCR before
it is answered). It prints p50/p95 of the text replies in both phases, their
ratio, and the uploads' own times. ``--only-chat`` skips the OCR-only part.

    python scripts/bench_ocr.py                          # OCR alone
    python scripts/bench_ocr.py --chat                   # and chat latency under uploads
    python scripts/bench_ocr.py --only-chat --uploaders 4 --chatters 8 --seconds 60
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence import ocr, samples  # noqa: E402

TARGET_P95 = 3.0  # seconds per screenshot
TARGET_RSS = 400  # MB added
# The embedded bot for --chat: ports of its own (bench_load.py uses 53xx, the tests 51xx–59xx).
CHAT_PORTS = {"RASA_PORT": "5705", "ACTIONS_PORT": "5755", "WEB_PORT": "8705"}
START_TIMEOUT = 420.0
REQUEST_TIMEOUT = 120.0
# What a chatting user says, over and over (a new conversation each time round).
CHAT_TURNS = [
    "你好",
    "我儿子在借呗借了钱，催收天天半夜打电话骚扰",
    "那我可以去哪里投诉",
    "家里人要替他还钱吗",
    "不还钱会坐牢吗",
    "谢谢",
]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


# --- OCR alone, in this process ------------------------------------------------------------------------


def measure_ocr(runs: int) -> dict:
    screens = {
        "call_log": samples.png_bytes(samples.sample_call_log()),
        "sms": samples.png_bytes(samples.sample_sms()),
    }
    before = rss_mb()
    started = time.perf_counter()
    ocr.engine()
    load = time.perf_counter() - started
    ocr.read_lines(screens["call_log"])  # warm-up, not counted

    times: dict[str, list[float]] = {name: [] for name in screens}
    for _ in range(runs):
        for name, data in screens.items():
            started = time.perf_counter()
            ocr.read_lines(data)
            times[name].append(time.perf_counter() - started)
    added = rss_mb() - before
    every = [t for values in times.values() for t in values]
    p50, p95 = statistics.median(every), percentile(every, 0.95)

    print(f"OCR of a 1080×2400 screenshot on {os.cpu_count()} cores "
          f"(ANXIN_OCR_THREADS={os.environ.get('ANXIN_OCR_THREADS', 'all')}), {len(every)} reads")
    print(f"  engine load        {load:.2f} s")
    for name, values in times.items():
        print(f"  {name:<18} p50 {statistics.median(values):.2f} s   p95 {percentile(values, 0.95):.2f} s")
    print(f"  all                p50 {p50:.2f} s   p95 {p95:.2f} s   (target p95 ≤ {TARGET_P95:.0f} s: "
          f"{'met' if p95 <= TARGET_P95 else 'NOT met'})")
    print(f"  added RSS          {added:.0f} MB   (target ≤ {TARGET_RSS} MB: "
          f"{'met' if added <= TARGET_RSS else 'NOT met'})", flush=True)
    return {
        "cores": os.cpu_count(),
        "load_s": round(load, 3),
        "p50_s": round(p50, 3),
        "p95_s": round(p95, 3),
        "per_screen": {n: {"p50_s": round(statistics.median(v), 3), "p95_s": round(percentile(v, 0.95), 3)}
                       for n, v in times.items()},
        "added_rss_mb": round(added),
        "targets_met": p95 <= TARGET_P95 and added <= TARGET_RSS,
    }


# --- chat latency of other users while uploads run, against the real bot -------------------------------


@contextlib.contextmanager
def embedded_bot(tmp: Path) -> Iterator[str]:
    """`make run`'s embedded profile (scripts/run.sh, endpoints.yml, two workers), every file
    it writes (conversations, locks, incident log, evidence) in ``tmp``; its base URL."""
    from tests.run_sh import running

    text = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    for name in ("var/tracker.db", "var/locks"):
        if name not in text:
            raise SystemExit(f"endpoints.yml no longer names {name}: update embedded_bot()")
        text = text.replace(name, str(tmp / Path(name).name))
    (tmp / "endpoints.yml").write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        **CHAT_PORTS,
        "ANXIN_PROFILE": "embedded",
        "RASA_BACKEND_PORTS": "",
        "ANXIN_ENDPOINTS": str(tmp / "endpoints.yml"),
        "ANXIN_STATE_DB": str(tmp / "state.db"),
        "ANXIN_LOG_DIR": str(tmp / "log"),
        "ANXIN_INCIDENT_DB_URL": f"sqlite:///{tmp / 'incidents.db'}",
        "ANXIN_EVIDENCE_DIR": str(tmp / "evidence"),
        "ANXIN_START_TIMEOUT": str(int(START_TIMEOUT) - 20),
        "WECHAT_REDIS_URL": "",
        "ANXIN_RATE_REDIS_URL": "",
        # The benchmark measures the bot, not the per-sender limit (which still runs).
        "ANXIN_RATE_BURST": "100000",
        "ANXIN_RATE_PER_MINUTE": "1000000",
    }
    base = f"http://127.0.0.1:{CHAT_PORTS['RASA_PORT']}"
    ready = [f"http://127.0.0.1:{CHAT_PORTS['ACTIONS_PORT']}/health", f"{base}/"]
    print(f"→ starting the embedded bot on :{CHAT_PORTS['RASA_PORT']} (logs in {tmp / 'log'}) …", flush=True)
    started = time.monotonic()
    with running(env, tmp / "run.log", ready, timeout=START_TIMEOUT) as process:
        # The port answers once one worker is up; both load the model: wait for the second.
        log = tmp / "log" / "rasa.log"
        deadline = time.monotonic() + START_TIMEOUT
        while (log.read_text(errors="replace") if log.exists() else "").count("Rasa server is up and running") < 2:
            if time.monotonic() > deadline or process.poll() is not None:
                break
            time.sleep(0.5)
        print(f"  ready after {time.monotonic() - started:.0f} s", flush=True)
        yield base


def chat_user(base: str, stop: threading.Event, latencies: list[float], errors: list[str]) -> None:
    """One user talking with no think time until ``stop``; each text reply's time in ms."""
    import requests

    with requests.Session() as http:
        while not stop.is_set():
            sender = f"bench-chat-{uuid.uuid4().hex[:12]}"
            for text in CHAT_TURNS:
                if stop.is_set():
                    return
                started = time.perf_counter()
                try:
                    answer = http.post(
                        f"{base}/webhooks/rest/webhook",
                        json={"sender": sender, "message": text},
                        timeout=REQUEST_TIMEOUT,
                    )
                    ok = answer.status_code == 200 and bool(answer.json())
                    problem = "" if ok else f"HTTP {answer.status_code}"
                except Exception as error:  # counted, not raised: the other users go on
                    problem = type(error).__name__
                if problem:
                    errors.append(problem)
                else:
                    latencies.append((time.perf_counter() - started) * 1000)


def uploader(
    base: str, screens: list[bytes], stop: threading.Event, times: list[float], errors: list[str]
) -> None:
    """One user uploading screenshots back to back until ``stop`` (a new sender each time,
    so the bot's question about the last one is never in the way); each upload's time in ms."""
    import requests

    with requests.Session() as http:
        count = 0
        while not stop.is_set():
            data = screens[count % len(screens)]
            count += 1
            started = time.perf_counter()
            try:
                answer = http.post(
                    f"{base}/webhooks/evidence/upload",
                    data={"sender": f"bench-upload-{uuid.uuid4().hex[:12]}"},
                    files={"file": ("screenshot.png", data, "image/png")},
                    timeout=REQUEST_TIMEOUT,
                )
                problem = "" if answer.status_code == 200 and answer.json().get("file") else f"HTTP {answer.status_code}"
            except Exception as error:
                problem = type(error).__name__
            if problem:
                errors.append(problem)
            else:
                times.append((time.perf_counter() - started) * 1000)


def phase(base: str, chatters: int, uploaders: int, seconds: float, screens: list[bytes]) -> dict:
    """``chatters`` users talk for ``seconds`` while ``uploaders`` users upload."""
    stop = threading.Event()
    chat_ms: list[float] = []
    upload_ms: list[float] = []
    chat_errors: list[str] = []
    upload_errors: list[str] = []
    threads = [
        threading.Thread(target=uploader, args=(base, screens, stop, upload_ms, upload_errors))
        for _ in range(uploaders)
    ]
    threads += [
        threading.Thread(target=chat_user, args=(base, stop, chat_ms, chat_errors)) for _ in range(chatters)
    ]
    load_before = os.getloadavg()[0]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:  # the requests in flight finish (and are counted)
        thread.join(REQUEST_TIMEOUT + 10)

    def stats(values: list[float]) -> dict:
        if not values:
            return {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
        return {
            "count": len(values),
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(percentile(values, 0.95), 1),
            "max_ms": round(max(values), 1),
        }

    return {
        "chatters": chatters,
        "uploaders": uploaders,
        "seconds": seconds,
        "chat": {**stats(chat_ms), "errors": len(chat_errors), "error_kinds": sorted(set(chat_errors))},
        "uploads": {**stats(upload_ms), "errors": len(upload_errors), "error_kinds": sorted(set(upload_errors))},
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def measure_chat(base: str, chatters: int, uploaders: int, seconds: float) -> dict:
    screens = [samples.png_bytes(samples.sample_call_log()), samples.png_bytes(samples.sample_sms())]
    # Warm-up, not counted: a few turns, and an upload per worker (each loads its OCR engine).
    phase(base, 2, 0, 5, screens)
    phase(base, 0, 4, 1, screens)
    quiet = phase(base, chatters, 0, seconds, screens)
    busy = phase(base, chatters, uploaders, seconds, screens)

    def f(value: float | None) -> str:
        return "–" if value is None else f"{value:.0f}"

    print(f"Chat latency of {chatters} REST users (no think time, {seconds:.0f} s per phase) on "
          f"{os.cpu_count()} cores, ANXIN_OCR_THREADS={os.environ.get('ANXIN_OCR_THREADS', 'all')} in the bot:")
    for name, result in (("without uploads", quiet), (f"with {uploaders} uploaders", busy)):
        chat = result["chat"]
        print(f"  {name:<20} {chat['count']:>4} replies  p50 {f(chat['p50_ms'])} ms  p95 {f(chat['p95_ms'])} ms  "
              f"max {f(chat['max_ms'])} ms  errors {chat['errors']}  load {result['load_avg'][0]:.1f}→"
              f"{result['load_avg'][1]:.1f}")
    uploads = busy["uploads"]
    print(f"  uploads (1080×2400 PNG, stored + OCR): {uploads['count']} done, p50 {f(uploads['p50_ms'])} ms  "
          f"p95 {f(uploads['p95_ms'])} ms  max {f(uploads['max_ms'])} ms  errors {uploads['errors']}")
    ratios = {}
    for key in ("p50_ms", "p95_ms"):
        if quiet["chat"][key] and busy["chat"][key]:
            ratios[key.replace("_ms", "")] = round(busy["chat"][key] / quiet["chat"][key], 2)
    if ratios:
        print("  with uploads / without: " + "  ".join(f"{k} ×{v}" for k, v in ratios.items()), flush=True)
    return {"without_uploads": quiet, "with_uploads": busy, "ratio": ratios}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="reads per screen (default 20)")
    parser.add_argument("--json", type=Path, default=Path("var/bench/bench_ocr.json"))
    parser.add_argument("--chat", action="store_true", help="also: chat latency of other users while uploads run")
    parser.add_argument("--only-chat", action="store_true", help="only the chat measurement")
    parser.add_argument("--attach", help="measure a bot already running at this URL (no servers started)")
    parser.add_argument("--uploaders", type=int, default=2, help="users uploading at once (default 2)")
    parser.add_argument("--chatters", type=int, default=4, help="users sending text meanwhile (default 4)")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each phase (default 45)")
    args = parser.parse_args()

    results: dict = {}
    ok = True
    if not args.only_chat:
        results = measure_ocr(args.runs)
        ok = results["targets_met"]
    if args.chat or args.only_chat:
        if args.attach:
            results["chat"] = measure_chat(args.attach.rstrip("/"), args.chatters, args.uploaders, args.seconds)
        else:
            with tempfile.TemporaryDirectory(prefix="anxin-bench-ocr-") as tmp, embedded_bot(Path(tmp)) as base:
                results["chat"] = measure_chat(base, args.chatters, args.uploaders, args.seconds)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
