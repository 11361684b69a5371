"""The WeChat channel on the real servers, driven as WeChat's servers would
(signed XML, encrypted in safe mode) through /webhooks/wechat/webhook.

The shared servers answer passively. A second pair of servers, started here
with WECHAT_PASSIVE_TIMEOUT=0.01, answers "success" at once and delivers
through the customer-service API, which a fake WeChat API on loopback
records. Whether a message was processed once is read from the tracker
store: each WeChat message's user event carries its MsgId.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from channels.wechat import VOICE_UNCLEAR_REPLY
from scripts.wechat_sim import _xml
from tests.run_sh import running
from tests.server.conftest import ROOT, START_TIMEOUT, WECHAT_ENV, sim

SLOW_RASA_PORT = int(os.environ.get("ANXIN_TEST_SLOW_RASA_PORT", "5305"))
SLOW_ACTIONS_PORT = int(os.environ.get("ANXIN_TEST_SLOW_ACTIONS_PORT", "5355"))
TEXT_LIMIT = 512  # the slow servers' cap, so that replies come in several pieces
WELCOME = "安心"
LIABILITY_MENU = '/faq{"faq_topic":"family_liability"}'  # the menu key MENU_LIABILITY


def user_events(tracker_db: Path, openid: str) -> list[dict]:
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (openid,)
        ).fetchall()
    return [json.loads(data) for (data,) in rows]


@pytest.fixture
def tracker_db(servers) -> Path:
    return Path(servers["log"]).parent / "tracker.db"


# --- the shared servers: passive replies -----------------------------------------------------------


def test_get_verification(wechat):
    answer = wechat.check()
    assert answer.status_code == 200 and answer.text.endswith("echo")
    query = {**wechat.signed_query(), "echostr": "x"}
    query["signature"] = "0" * 40
    assert requests.get(wechat.url, params=query, timeout=10).status_code == 403
    health = requests.get(wechat.url.removesuffix("/webhook") + "/", timeout=10)
    assert health.json() == {"status": "ok"}


def test_text_in_plain_mode_gets_a_passive_reply_with_numbered_options(wechat):
    result = wechat.text("你好")
    assert result.status == 200 and not result.encrypted
    assert WELCOME in result.content
    assert "回复数字选择：\n1 我或家人被催收骚扰" in result.content
    # The OpenID is the conversation: "2" picks the second option offered above.
    assert "第465条" in wechat.text("2").content


def test_safe_mode_request_and_reply_are_encrypted(servers, api):
    safe = sim(servers["base"], safe=True)
    query, body = safe.envelope(_xml({"MsgType": "text", "Content": "你好"}))  # sealed, so no 你好 in clear
    assert "你好".encode() not in body
    result = safe.text("你好")
    assert result.status == 200 and result.encrypted
    assert WELCOME not in result.body and WELCOME in result.content


def test_voice_uses_wechat_recognition(wechat):
    assert WELCOME in wechat.voice("你好。").content
    assert wechat.voice("").content == VOICE_UNCLEAR_REPLY


def test_subscribe_gets_the_welcome_and_unsubscribe_nothing(wechat):
    assert WELCOME in wechat.event("subscribe", "").content
    result = wechat.event("unsubscribe")
    assert result.status == 200 and result.body == "success"


def test_menu_click_gets_the_mapped_answer(wechat):
    assert "第465条" in wechat.event("CLICK", "MENU_LIABILITY").content
    assert "12378" in wechat.event("CLICK", "MENU_COMPLAIN").content
    assert WELCOME in wechat.event("CLICK", "NO_SUCH_BUTTON").content


def test_an_image_that_cannot_be_fetched_is_asked_for_again(wechat):
    # The fake API does not know the simulator's media id (tests/server/test_wechat_evidence.py
    # sends real screenshots).
    assert "没能从微信取下来" in wechat.image().content


def test_the_same_msgid_is_processed_once(wechat, tracker_db, api):
    msg_id = wechat.next_msg_id()
    xml = _xml(
        {
            "ToUserName": wechat.account,
            "FromUserName": wechat.openid,
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": "你好",
            "MsgId": msg_id,
        }
    )
    answers: list[requests.Response] = []

    def deliver() -> None:  # each retry of WeChat's comes on a connection of its own
        answers.append(sim(wechat.url.removesuffix("/webhooks/wechat/webhook")).post(xml, timeout=10))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    answers.append(wechat.post(xml, timeout=10))  # a retry after the answer was given
    contents = {wechat.read_reply(a.text)[0] for a in answers}
    assert len(answers) == 4 and len(contents) == 1 and WELCOME in contents.pop()
    events = [e for e in user_events(tracker_db, wechat.openid) if e.get("message_id") == str(msg_id)]
    assert len(events) == 1, "processed more than once"
    assert api.messages_to(wechat.openid) == []  # and not pushed as well


def test_unknown_message_type_is_acknowledged(wechat):
    result = wechat.send({"MsgType": "file", "Title": "借条.pdf", "MsgId": wechat.next_msg_id()})
    assert result.status == 200 and result.body == "success"


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]><xml><Content>&i;</Content></xml>"
).encode()


@pytest.mark.parametrize(
    "body, status",
    [
        (b"<xml><ToUserName>broken</xml>", 400),
        (BOMB, 400),
        (b"<xml><Content>" + b"a" * 100_000 + b"</Content></xml>", 413),
        (b"", 400),
    ],
    ids=["malformed", "xml-bomb", "oversized", "empty"],
)
def test_hostile_bodies_are_refused_quickly(wechat, body, status):
    started = time.monotonic()
    answer = requests.post(wechat.url, params=wechat.signed_query(), data=body, timeout=10)
    assert answer.status_code == status
    assert time.monotonic() - started < 2


def test_forged_requests_are_refused(servers, wechat):
    query, body = wechat.envelope(_xml({"MsgType": "text", "Content": "x", "FromUserName": "o", "MsgId": 1}))
    assert (
        requests.post(wechat.url, params={**query, "signature": "0" * 40}, data=body, timeout=10).status_code
        == 403
    )
    safe = sim(servers["base"], safe=True)
    query, body = safe.envelope(_xml({"MsgType": "text", "Content": "x", "FromUserName": "o", "MsgId": 2}))
    forged = {**query, "msg_signature": "0" * 40}
    assert requests.post(safe.url, params=forged, data=body, timeout=10).status_code == 403


def test_logs_hold_no_openid_or_text(servers, wechat):
    wechat.text("我的电话是13812345678")
    log = (ROOT / "var" / "log" / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "wechat.received" in log
    assert wechat.openid not in log and "13812345678" not in log


# --- servers that answer late: the customer-service API ---------------------------------------------


@pytest.fixture(scope="module")
def slow_servers(tmp_path_factory, fake_api):
    tmp = tmp_path_factory.mktemp("slow_servers")
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: http://localhost:{SLOW_ACTIONS_PORT}/webhook\n"
        "  headers:\n    X-Anxin-Action-Secret: ${ANXIN_ACTION_SECRET}\n"  # actions/server.py
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp / 'tracker.db'}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        **WECHAT_ENV,
        "WECHAT_PASSIVE_TIMEOUT": "0.01",
        "WECHAT_TEXT_LIMIT": str(TEXT_LIMIT),
        "RASA_PORT": str(SLOW_RASA_PORT),
        "ACTIONS_PORT": str(SLOW_ACTIONS_PORT),
        "WEB_PORT": str(SLOW_RASA_PORT + 3000),  # not make run's 8080
        "ANXIN_ENDPOINTS": str(endpoints),
    }
    ready = [f"http://localhost:{SLOW_ACTIONS_PORT}/health", f"http://localhost:{SLOW_RASA_PORT}/"]
    with running(env, tmp / "run.log", ready, START_TIMEOUT):
        yield {"base": f"http://localhost:{SLOW_RASA_PORT}", "tracker_db": tmp / "tracker.db"}


# Each of these calls the action server: a turn that never waits on I/O finishes before the
# event loop can notice any timeout, however short.


def test_a_late_reply_comes_through_the_customer_service_api(slow_servers, api):
    wechat = sim(slow_servers["base"])
    started = time.monotonic()
    result = wechat.event("CLICK", "MENU_LIABILITY")
    assert result.status == 200 and result.body == "success"
    assert time.monotonic() - started < 2
    pushed = api.wait_for(wechat.openid, 1, timeout=30)
    assert pushed and "第465条" in pushed[0]
    assert api.token_requests[0]["appid"] == WECHAT_ENV["WECHAT_APPID"]
    assert api.token_requests[0]["secret"] == WECHAT_ENV["WECHAT_APPSECRET"]


def test_a_long_reply_is_split_and_sent_in_order(slow_servers, api):
    wechat = sim(slow_servers["base"])
    assert wechat.text("我兒子欠了借唄，催收天天打給我，我要替他還嗎").body == "success"
    deadline = time.monotonic() + 30
    # Pieces arrive one call each; wait for the last one, the one with the options.
    while time.monotonic() < deadline and not any(
        "回复数字选择" in p for p in api.messages_to(wechat.openid)
    ):
        time.sleep(0.2)
    pieces = api.messages_to(wechat.openid)
    assert len(pieces) >= 2, pieces
    assert all(len(p.encode("utf-8")) <= TEXT_LIMIT for p in pieces)
    whole = "\n".join(pieces)
    assert "第465条" in whole and "回复数字选择" in pieces[-1]
    assert whole.index("第465条") < whole.index("回复数字选择")


def test_retries_of_a_late_message_are_delivered_once(slow_servers, api):
    wechat = sim(slow_servers["base"])
    msg_id = wechat.next_msg_id()
    first = wechat.text(LIABILITY_MENU, msg_id=msg_id)  # our menu's payload: passes as is
    assert first.body == "success"
    # WeChat retries only when it got no answer; a retry that finds the reply ready gets it
    # passively (and then it is not pushed), otherwise the push delivers it.
    retry = wechat.text(LIABILITY_MENU, msg_id=msg_id)
    api.wait_for(wechat.openid, 1, timeout=30)
    time.sleep(2)  # time for a second (wrong) delivery to show up
    opening = "借款合同只约束借款人本人"
    delivered = [r.content for r in (first, retry) if r.content] + api.messages_to(wechat.openid)
    assert len([text for text in delivered if text.startswith(opening)]) == 1, delivered
    events = [
        e
        for e in user_events(slow_servers["tracker_db"], wechat.openid)
        if e.get("message_id") == str(msg_id)
    ]
    assert len(events) == 1


def test_a_letter_on_wechat_comes_once_as_texts_within_the_cap(wechat, api):
    # Ask for the 12321 report (it needs only the user's number), skip it, confirm.
    reply = wechat.text("帮我写12321举报").content
    for _ in range(4):
        if "确认生成" in reply:
            break
        reply = wechat.text("跳过").content
    assert "确认生成" in reply, reply
    first = wechat.text("确认生成").content
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any("工单号" in p for p in api.messages_to(wechat.openid)):
        time.sleep(0.2)
    pieces = [first, *api.messages_to(wechat.openid)]
    assert all(len(p.encode("utf-8")) <= 2048 for p in pieces)
    whole = "\n".join(pieces)
    assert whole.count("骚扰电话和短信举报") == 1, whole  # the letter's title, once
    # The letter starts a text of its own, and what follows tells where to send it.
    assert any(p.startswith("骚扰电话和短信举报") for p in pieces), pieces
    assert "12321" in whole and "工单号" in whole
