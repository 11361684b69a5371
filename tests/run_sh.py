"""Starting and stopping scripts/run.sh (as `make run` does) for the test suites
that talk to real servers: one way to start, wait for and stop them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 300


def wait_for(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Until ``url`` answers 200; fails at once if run.sh has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"run.sh exited with {process.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """Ctrl-C, as a user would; the whole process group if that does not end it."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(
    env: Mapping[str, str], log_path: Path, ready: list[str], timeout: float = START_TIMEOUT
) -> Iterator[subprocess.Popen]:
    """run.sh with ``env``, its output in ``log_path``, once every ``ready`` URL answers."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            for url in ready:
                wait_for(url, process, timeout)
            yield process
        finally:
            stop(process)
