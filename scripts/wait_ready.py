"""Wait until every URL answers HTTP 200, or fail if a watched process dies."""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except Exception:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--pids", nargs="*", type=int, default=[])
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    pending = list(args.urls)
    while pending:
        pending = [u for u in pending if not ready(u)]
        if not pending:
            return 0
        dead = [p for p in args.pids if not alive(p)]
        if dead:
            print(f"✗ process {dead} exited before {pending} answered", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"✗ still not answering after {args.timeout:.0f} s: {pending}", file=sys.stderr)
            return 1
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
