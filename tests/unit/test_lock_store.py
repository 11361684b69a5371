"""serving/lock_store.py: conversation locks shared by the processes of one machine."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import time

import pytest
from rasa.core.lock_store import LockStore
from rasa.core.utils import number_of_sanic_workers
from rasa.utils.endpoints import EndpointConfig

from serving.lock_store import FileLockStore, stripe_of


def _hold(path: str, conversation: str, seconds: float, ready, crash: bool) -> None:
    """In another process: take the lock, say so, hold it, then release it or die holding it."""

    async def main() -> None:
        store = FileLockStore(path=path)
        async with store.lock(conversation):
            ready.set()
            if crash:
                os.kill(os.getpid(), signal.SIGKILL)
            await asyncio.sleep(seconds)

    asyncio.run(main())


def _other_process(tmp_path, conversation: str, seconds: float, crash: bool = False):
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    process = context.Process(target=_hold, args=(str(tmp_path), conversation, seconds, ready, crash))
    process.start()
    assert ready.wait(20), "the other process did not take the lock"
    return process


async def _time_to_lock(store: FileLockStore, conversation: str, lifetime: float = 60) -> float:
    start = time.monotonic()
    async with store.lock(conversation, lock_lifetime=lifetime):
        return time.monotonic() - start


async def test_two_processes_take_turns(tmp_path):
    process = _other_process(tmp_path, "user-a", seconds=0.6)
    try:
        store = FileLockStore(path=tmp_path)
        assert await _time_to_lock(store, "user-b") < 0.2  # another conversation: no wait
        waited = await _time_to_lock(store, "user-a")
        assert 0.3 < waited < 3, waited  # until the other process let go
    finally:
        process.join(10)
    assert process.exitcode == 0


async def test_a_lock_dies_with_its_process(tmp_path):
    process = _other_process(tmp_path, "user-a", seconds=30, crash=True)
    process.join(10)
    assert process.exitcode == -signal.SIGKILL
    # Rasa's ticket locks (in Redis too) would block this conversation for TICKET_LOCK_LIFETIME.
    assert await _time_to_lock(FileLockStore(path=tmp_path), "user-a") < 0.2


async def test_one_process_serves_a_conversation_in_order(tmp_path):
    store = FileLockStore(path=tmp_path)
    running, order = [], []

    async def message(n: int) -> None:
        async with store.lock("user-a"):
            running.append(n)
            assert len(running) == 1, "two messages of one conversation at once"
            await asyncio.sleep(0.02)
            order.append(n)
            running.remove(n)

    tasks = []
    for n in range(5):
        tasks.append(asyncio.create_task(message(n)))
        await asyncio.sleep(0)  # they arrive in this order
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert store._local == {}  # nothing kept once nobody waits


async def test_a_hung_holder_is_given_up_after_the_lifetime(tmp_path, caplog):
    store = FileLockStore(path=tmp_path)
    release = asyncio.Event()

    async def hung() -> None:
        async with store.lock("user-a"):
            await release.wait()

    holder = asyncio.create_task(hung())
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING, logger="serving.lock_store"):
        waited = await _time_to_lock(FileLockStore(path=tmp_path), "user-a", lifetime=0.3)
    assert 0.25 < waited < 2
    assert "waited_too_long" in caplog.text
    release.set()
    await holder


def test_rasa_builds_it_from_the_endpoints_file_and_allows_workers(tmp_path, monkeypatch):
    config = EndpointConfig(type="serving.lock_store.FileLockStore", path=str(tmp_path / "locks"))
    store = LockStore.create(config)
    assert isinstance(store, FileLockStore) and store.path == tmp_path / "locks"
    monkeypatch.setenv("SANIC_WORKERS", "2")
    assert number_of_sanic_workers(config) == 2
    assert number_of_sanic_workers(EndpointConfig(type="in_memory")) == 1  # Rasa's own refusal
    # File names are hashes: no sender id on disk.
    assert store.file_for("o-openid-123").name == f"{stripe_of('o-openid-123'):04x}.lock"
    assert "openid" not in store.file_for("o-openid-123").name


def test_the_shipped_endpoints_use_it(monkeypatch):
    from rasa.core.utils import read_endpoint_config

    monkeypatch.setenv("ANXIN_ACTION_SECRET", "x")
    monkeypatch.setenv("ACTIONS_PORT", "5055")
    config = read_endpoint_config("endpoints.yml", endpoint_type="lock_store")
    assert config is not None and config.type == "serving.lock_store.FileLockStore"


@pytest.fixture(autouse=True)
def _run_from_the_repository(monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
