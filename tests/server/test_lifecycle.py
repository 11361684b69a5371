"""The HTTP API stays closed without a token, Ctrl-C stops all the servers,
and what a user recorded survives a restart until they erase it.

Named to run last: it stops the servers the other tests share.
"""

import signal
import uuid

import pytest
import requests

from tests.run_sh import running
from tests.server.conftest import ACTIONS_PORT, RASA_PORT, WEB_PORT, Bot

# One user who records a call before the restart and erases it after.
SENDER = f"restart-{uuid.uuid4().hex[:8]}"


def test_a_user_records_a_call_before_the_restart(servers):
    user = Bot(servers["base"])
    user.sender = SENDER
    user.say("我是借款人本人")
    user.say("记录一次：昨天晚上十一点 13512345678 打给我同事，说我是老赖，还骂人")
    assert "记下了" in user.say("有截图")


def test_conversation_api_is_not_open(servers):
    response = requests.get(f"{servers['base']}/conversations/someone/tracker", timeout=10)
    assert response.status_code in (401, 403, 404)


def test_ctrl_c_stops_all_servers(servers):
    process = servers["process"]
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    for port in (RASA_PORT, ACTIONS_PORT, WEB_PORT):
        try:
            requests.get(f"http://localhost:{port}/", timeout=2)
            raise AssertionError(f"port {port} still answers after Ctrl-C")
        except requests.ConnectionError:
            pass


@pytest.fixture
def restarted(servers, tmp_path):
    """The same servers (same databases) started again after Ctrl-C."""
    with running(servers["env"], tmp_path / "run-again.log", servers["ready"]):
        user = Bot(servers["base"])
        user.sender = SENDER
        yield user


def test_the_log_survives_a_restart_and_delete_my_data_erases_it(restarted):
    shown = restarted.say("查看我的记录")
    assert "一共记了 1 条" in shown and "同事" in shown

    assert "确定" in restarted.say("删除我的数据")
    assert "什么都没删" in restarted.say("先不删")
    assert "一共记了 1 条" in restarted.say("查看我的记录")

    assert "找不回来" in restarted.say("删除我的数据")
    assert "已删除" in restarted.say("确定全部删除")
    assert "还没有记录" in restarted.say("查看我的记录")
    # The conversation is gone too: the role said before is no longer known.
    reply = restarted.say("帮我写投诉信")
    if "哪个平台" in reply:  # the lender is asked first
        reply = restarted.say("跳过")
    assert "借款人本人" in reply
