"""channels/wechat_dedupe.py across processes: the SQLite store of the embedded profile,
and claims that do not outlive the process that made them (issue #16, point 9)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import uuid

import pytest
from test_wechat_crypto_and_parse import (  # tests/unit is on sys.path (no __init__.py)
    REDIS_URL,
    StandInBot,
    make_handler,
    needs_redis,
    post,
    sim,
    text_xml,
)

from channels.ratelimit import RateSettings, SqliteRateLimiter, make_limiter
from channels.wechat_dedupe import (
    MemoryDedupeStore,
    RedisDedupeStore,
    SqliteDedupeStore,
    make_store,
    owner_alive,
    process_tag,
)


async def _semantics(store, key: str) -> None:
    assert await store.claim(key) is True
    assert await store.claim(key) is False  # a retry does not process again
    assert await store.result(key) is None  # still processing
    await store.finish(key, ["一", "二"])
    assert await store.result(key) == ["一", "二"]
    assert await store.claim(key) is False  # answered: never processed again
    assert await store.claim_delivery(key, "passive") == ("passive", True)
    assert await store.claim_delivery(key, "push") == ("passive", False)
    await store.set_token("tok-1", 30)
    assert await store.get_token() == "tok-1"


async def test_sqlite_store_semantics_shared_and_expiry(tmp_path):
    a = SqliteDedupeStore(tmp_path / "state.db", ttl=0.5)
    b = SqliteDedupeStore(tmp_path / "state.db", ttl=0.5)  # another process, the same file
    await _semantics(a, "msg:1")
    assert await b.claim("msg:1") is False and await b.result("msg:1") == ["一", "二"]
    assert await b.get_token() == "tok-1"
    await asyncio.sleep(0.6)
    assert await b.result("msg:1") is None
    assert await b.claim("msg:1") is True  # forgotten after ttl: a new message with an old id
    await a.close()
    await b.close()


def test_make_store_picks_the_shared_store(tmp_path, monkeypatch):
    monkeypatch.delenv("ANXIN_STATE_DB", raising=False)
    assert isinstance(make_store(None), MemoryDedupeStore)
    assert isinstance(make_store(None, state_db=str(tmp_path / "s.db")), SqliteDedupeStore)
    monkeypatch.setenv("ANXIN_STATE_DB", str(tmp_path / "s.db"))
    assert isinstance(make_store(""), SqliteDedupeStore)


def _claim_and_die(path: str, key: str, claimed, die) -> None:
    async def main() -> None:
        store = SqliteDedupeStore(path, prefix="p")
        assert await store.claim(key)
        claimed.set()
        await asyncio.get_running_loop().run_in_executor(None, die.wait)
        os.kill(os.getpid(), signal.SIGKILL)  # dies while "answering": never finishes

    asyncio.run(main())


def _claimer(path: str, key: str):
    context = multiprocessing.get_context("fork")
    claimed, die = context.Event(), context.Event()
    process = context.Process(target=_claim_and_die, args=(path, key, claimed, die))
    process.start()
    assert claimed.wait(20)
    return process, die


async def test_a_claim_dies_with_its_process(tmp_path):
    path = str(tmp_path / "state.db")
    process, die = _claimer(path, "msg:7")
    store = SqliteDedupeStore(path, prefix="p")
    assert await store.claim("msg:7") is False  # its owner is alive and renewing
    die.set()
    process.join(10)
    assert not owner_alive(f"{process.pid}:0") and owner_alive(process_tag())
    assert await store.claim("msg:7") is True  # at once: the owner is gone
    await store.close()


async def test_a_lapsed_lease_is_taken_over_and_a_renewed_one_is_not(tmp_path):
    a = SqliteDedupeStore(tmp_path / "state.db", lease=0.3)
    b = SqliteDedupeStore(tmp_path / "state.db", lease=0.3)
    assert await a.claim("msg:1") and await a.claim("msg:2") is True
    a._stop_renewal("msg:2")  # stands for a process that hangs (alive, but no longer renewing)
    await asyncio.sleep(0.8)
    assert await b.claim("msg:1") is False  # renewed every 0.1 s
    assert await b.claim("msg:2") is True  # lapsed
    await a.close()
    await b.close()


@needs_redis
async def test_redis_claims_lapse_without_renewal():
    prefix = f"anxin-test:{uuid.uuid4().hex[:8]}"
    a = RedisDedupeStore(REDIS_URL, prefix=prefix, lease=0.3)
    b = RedisDedupeStore(REDIS_URL, prefix=prefix, lease=0.3)
    try:
        assert await a.claim("msg:1") and await a.claim("msg:2")
        a._stop_renewal("msg:2")  # a process that died
        await asyncio.sleep(0.8)
        assert await b.claim("msg:1") is False
        assert await b.claim("msg:2") is True
        await a.finish("msg:1", ["好"])
        await asyncio.sleep(0.4)
        assert await b.claim("msg:1") is False  # done: kept for ttl, not for the lease
    finally:
        async for name in a._redis.scan_iter(match=f"{prefix}:*"):
            await a._redis.delete(name)
        await a.close()
        await b.close()


async def test_a_retry_is_answered_by_another_process_when_the_first_died(tmp_path):
    # Process 1 claimed MsgId 31 and died before answering; WeChat's retry reaches process 2.
    path = str(tmp_path / "state.db")
    process, die = _claimer(path, "msg:31")
    bot = StandInBot()
    handler = make_handler(bot, store=SqliteDedupeStore(path, prefix="p"), passive_timeout=3.0)
    s = sim()
    xml = text_xml(s, "你好", msg_id=31)
    retry = asyncio.create_task(post(handler, s, xml))  # arrives while process 1 still lives
    await asyncio.sleep(0.3)
    die.set()
    process.join(10)
    _, content = await asyncio.wait_for(retry, 10)
    assert content == "收到：你好"  # answered, not swallowed
    assert len(bot.calls) == 1
    _, again = await post(handler, s, xml)  # a later retry gets the same answer, not a new turn
    assert again == "收到：你好" and len(bot.calls) == 1
    await handler.close()


async def test_sqlite_rate_limit_is_shared(tmp_path):
    clock = [1000.0]
    a = SqliteRateLimiter(tmp_path / "state.db", burst=3, per_minute=60, clock=lambda: clock[0])
    b = SqliteRateLimiter(tmp_path / "state.db", burst=3, per_minute=60, clock=lambda: clock[0])
    assert [await x.allow("k") for x in (a, b, a, b)] == [True, True, True, False]
    assert await b.allow("other") is True
    clock[0] += 1.0  # one a second
    assert await b.allow("k") is True and await a.allow("k") is False
    await a.close()
    await b.close()
    settings = RateSettings.load({"ANXIN_STATE_DB": str(tmp_path / "s.db")})
    assert isinstance(make_limiter(settings), SqliteRateLimiter)


async def test_sqlite_rate_limit_lets_through_when_broken(tmp_path):
    (tmp_path / "dir.db").mkdir()  # not a database file
    assert await SqliteRateLimiter(tmp_path / "dir.db", burst=1, per_minute=1).allow("k") is True


@pytest.fixture(autouse=True)
def _no_state_db_from_outside(monkeypatch):
    monkeypatch.delenv("ANXIN_STATE_DB", raising=False)
