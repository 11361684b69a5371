"""OCR speed and memory for evidence screenshots (issue #15 §5): `make bench-ocr`.

Draws two 1080×2400 screens (a call log and an SMS conversation, evidence.samples),
loads the engine once, reads each screen N times and prints the time per
screenshot (p50, p95), the engine's load time and the RSS it added (after the
reads, so onnxruntime's working memory is counted), against the targets:
p95 ≤ 3 s per screenshot and ≤ 400 MB added RSS. Not a test: the numbers
depend on the machine (`nproc` is printed). Chat latency under uploads is
measured with the channels (later).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence import ocr, samples  # noqa: E402

TARGET_P95 = 3.0  # seconds per screenshot
TARGET_RSS = 400  # MB added


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="reads per screen (default 20)")
    parser.add_argument("--json", type=Path, default=Path("var/bench/bench_ocr.json"))
    args = parser.parse_args()

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
    for _ in range(args.runs):
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
          f"{'met' if added <= TARGET_RSS else 'NOT met'})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "cores": os.cpu_count(),
                "load_s": round(load, 3),
                "p50_s": round(p50, 3),
                "p95_s": round(p95, 3),
                "per_screen": {n: {"p50_s": round(statistics.median(v), 3), "p95_s": round(percentile(v, 0.95), 3)}
                               for n, v in times.items()},
                "added_rss_mb": round(added),
                "targets_met": p95 <= TARGET_P95 and added <= TARGET_RSS,
            },
            indent=2,
        )
    )
    return 0 if p95 <= TARGET_P95 and added <= TARGET_RSS else 1


if __name__ == "__main__":
    sys.exit(main())
