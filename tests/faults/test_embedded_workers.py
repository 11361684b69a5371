"""The embedded profile (`make run`: no PostgreSQL, no Redis) answers with several Sanic
workers on one port, sharing conversations, locks, WeChat de-duplication and rate limits
through files; a worker killed mid-way is replaced while the other answers.

Starts scripts/run.sh with the shipped endpoints.yml (its files moved to a temporary
folder) on ports of its own (ANXIN_TEST_EMBEDDED_PORT, default 5905; +50 actions,
+3000 web page). ~1 min, most of it loading the model in both workers at once.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from scripts.wechat_sim import WeChatSim
from tests.run_sh import running

ROOT = Path(__file__).resolve().parents[2]
RASA_PORT = int(os.environ.get("ANXIN_TEST_EMBEDDED_PORT", "5905"))
ACTIONS_PORT = RASA_PORT + 50
WEB_PORT = RASA_PORT + 3000
TOKEN = "workers-token"
COMPANY = "重庆蚂蚁消费金融有限公司"  # 借呗's lender (knowledge/anxin.yml)


def children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(proc.name))
    return found


def rasa_main_pid() -> int:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "serving.server run" in cmd and f"--port {RASA_PORT} " in cmd:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if "serving.server run" not in (Path(f"/proc/{parent}/cmdline").read_bytes().decode(errors="replace")):
                return int(proc.name)
    raise AssertionError("no Rasa main process")


def say(sender: str, text: str) -> str:
    answer = requests.post(
        f"http://127.0.0.1:{RASA_PORT}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()
    assert items and all(item["recipient_id"] == sender for item in items)
    return "\n".join(item.get("text") or "" for item in items)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("embedded")
    text = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    for name in ("var/tracker.db", "var/locks"):
        assert name in text, f"endpoints.yml no longer names {name}"
        text = text.replace(name, str(tmp / Path(name).name))
    (tmp / "endpoints.yml").write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        "RASA_PORT": str(RASA_PORT),
        "ACTIONS_PORT": str(ACTIONS_PORT),
        "WEB_PORT": str(WEB_PORT),
        "ANXIN_PROFILE": "embedded",
        "RASA_BACKEND_PORTS": "",
        "SANIC_WORKERS": "2",
        "ANXIN_ENDPOINTS": str(tmp / "endpoints.yml"),
        "ANXIN_STATE_DB": str(tmp / "state.db"),
        "ANXIN_LOG_DIR": str(tmp / "log"),
        "ANXIN_INCIDENT_DB_URL": f"sqlite:///{tmp / 'incidents.db'}",
        "WECHAT_REDIS_URL": "",
        "ANXIN_RATE_REDIS_URL": "",
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APPID": "wx-workers",
        "WECHAT_APPSECRET": "",
        "WECHAT_AES_KEY": "",
        "WECHAT_CUSTOMER_API": "0",
        "ANXIN_RATE_BURST": "3",
        "ANXIN_RATE_PER_MINUTE": "6",
    }
    ready = [f"http://127.0.0.1:{ACTIONS_PORT}/health", f"http://127.0.0.1:{RASA_PORT}/"]
    with running(env, tmp / "run.log", ready) as process:
        # Both workers loaded: the port answers once the first is; give the second its time.
        deadline = time.monotonic() + 240
        while _log(tmp).count("Rasa server is up and running") < 2:
            assert time.monotonic() < deadline, _log(tmp)[-2000:]
            assert process.poll() is None
            time.sleep(0.5)
        yield tmp


def _log(tmp: Path) -> str:
    path = tmp / "log" / "rasa.log"
    return path.read_text(errors="replace") if path.exists() else ""


def test_two_workers_answer_and_share_conversations(embedded):
    main = rasa_main_pid()
    workers = children(main)
    assert len(workers) == 2, workers

    def conversation(n: int) -> str:
        sender = f"w-{uuid.uuid4().hex[:10]}"
        say(sender, "你好")
        say(sender, "我儿子在借呗借了钱，催收天天半夜打电话骚扰")
        return say(sender, "那我可以去哪里投诉")  # built from the slots stored by earlier turns

    before = {pid: _cpu_ticks(pid) for pid in workers}
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(conversation, range(6)))
    assert all(COMPANY in reply for reply in replies), replies
    # Both workers took part (the kernel hands each connection to an idle one).
    assert all(_cpu_ticks(pid) > before[pid] for pid in workers)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_the_rate_limit_is_shared_by_the_workers(embedded):
    sender = f"r-{uuid.uuid4().hex[:10]}"
    with ThreadPoolExecutor(4) as pool:  # at once: they land on both workers
        replies = list(pool.map(lambda _: say(sender, "你好"), range(6)))
    limited = sum("发得有点快" in reply for reply in replies)
    assert limited == 3, replies  # a burst of 3 in all, not 3 per worker


def test_a_wechat_retry_on_the_other_worker_is_answered_once(embedded):
    s = WeChatSim(f"http://127.0.0.1:{RASA_PORT}/webhooks/wechat/webhook", TOKEN, "wx-workers", "", attempts=1)
    msg_id = int(time.time() * 1000)
    with ThreadPoolExecutor(3) as pool:  # the same MsgId three times at once, on either worker
        results = list(pool.map(lambda _: s.text("你好", msg_id=msg_id), range(3)))
    contents = [r.content for r in results]
    assert all(contents) and len(set(contents)) == 1, contents
    assert _log(embedded).count("serving.retry.replayed") == 0  # de-duplicated before Rasa


def test_a_killed_worker_is_replaced_and_the_other_answers_at_once(embedded):
    main = rasa_main_pid()
    victim, survivor = sorted(children(main))
    sender = f"k-{uuid.uuid4().hex[:10]}"
    say(sender, "你好")
    os.kill(victim, signal.SIGKILL)
    start = time.monotonic()
    for _ in range(2):  # (a burst of 3 in all for this sender)
        assert say(sender, "谢谢")
    assert time.monotonic() - start < 10  # no lock of the dead worker to wait for
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = children(main)
        if victim not in now and len(now) == 2:
            break
        time.sleep(0.2)
    assert survivor in children(main) and len(children(main)) == 2, "the dead worker was not replaced"


def _ours() -> list[int]:
    """Every Rasa process (main or worker) on this module's port."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "serving.server run" in cmd and f"--port {RASA_PORT} " in cmd:
                found.append(int(proc.name))
    return found


def test_workers_do_not_outlive_the_main_process(embedded):
    # Last in this module: it ends the server. A main process killed hard (no clean-up) must
    # not leave workers holding the port, loaded or still loading.
    os.kill(rasa_main_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _ours() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ours() == []
