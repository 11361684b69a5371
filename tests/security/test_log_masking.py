"""Phone, ID and card numbers and names never appear in the clear in the
servers' logs, even at DEBUG level (which logs every message's text) and in
Sanic's access log (which logs query strings).

The messages go in over REST, Socket.IO and WeChat; the checks read the log
files run.sh writes, raw and with structlog's JSON escapes."""

from __future__ import annotations

import json
import time

import requests

from tests.security.conftest import ACTION_SECRET, API_TOKEN
from tests.security.test_limits import SocketUser

# What users type, and the personal data in it that must not be logged.
MESSAGES = [
    "催收天天打我电话，我叫王小明，手机13812345678",
    "我是李建国，座机010-62345678，身份证号11010119900307123X",
    "姓名：欧阳娜娜 电话 +86 139-1234-5678，银行卡 6222 0212 3456 7890 123",
    "我儿子叫张伟，他的电话是１５８ ００００ １１１１",  # full-width digits
]
SECRETS = [
    "王小明", "13812345678",
    "李建国", "010-62345678", "62345678", "11010119900307123X", "110101199003071",
    "欧阳娜娜", "139-1234-5678", "13912345678", "6222 0212 3456 7890", "6222021234567890",
    "张伟", "１５８ ００００ １１１１", "15800001111",
    "o-sec-13700001234",  # a WeChat OpenID (in the access log's query string)
    API_TOKEN, ACTION_SECRET,
]


def _forms(secret: str) -> set[str]:
    """``secret`` as it could appear in a log line: raw, or JSON-escaped (structlog)."""
    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


async def test_no_personal_data_in_any_log_line(servers, sender):
    for i, message in enumerate(MESSAGES[:3]):
        assert servers.post(message, f"{sender}-{i}").status_code == 200
    # A phone number as the sender ID (some integrations do that), and one in a query string.
    assert servers.post("你好", "13812345678").status_code == 200
    requests.get(f"{servers.base}/webhooks/rest/", params={"phone": "13812345678"}, timeout=10)
    requests.get(
        f"{servers.base}/conversations/13812345678/tracker", params={"token": API_TOKEN}, timeout=30
    )
    async with SocketUser(servers) as user:
        await user.say(MESSAGES[3])
    wechat = servers.wechat("o-sec-13700001234")
    assert wechat.text(MESSAGES[1]).status == 200
    time.sleep(1)  # let the last lines reach the files

    logs = servers.logs()
    assert {"rasa.log", "actions.log"} <= set(logs)
    for name, text in logs.items():
        for secret in SECRETS:
            for form in _forms(secret):
                assert form not in text, f"{secret!r} in {name}"
    # The text was logged (DEBUG), masked: not merely absent.
    rasa_log = logs["rasa.log"]
    assert "<phone>" in rasa_log and "<name>" in rasa_log and "<id>" in rasa_log and "<card>" in rasa_log
    assert "processor.message.parse" in rasa_log  # Rasa's structlog event with the message text
    assert "/webhooks/rest/webhook" in rasa_log  # Sanic's access log is on
    assert "token=***" in rasa_log and "openid=***" in rasa_log
