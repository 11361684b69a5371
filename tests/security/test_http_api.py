"""Rasa's HTTP API: with RASA_API_TOKEN set, run.sh turns it on and every call
needs the token. (Without the token it is not served at all:
tests/server/test_locked_down.py, on the default servers.)"""

import pytest
import requests

from tests.security.conftest import API_TOKEN

PROTECTED = [
    ("GET", "/status"),
    ("GET", "/conversations/someone/tracker"),
    ("POST", "/conversations/someone/messages"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
    ("GET", "/domain"),
]


@pytest.mark.parametrize("method, path", PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
@pytest.mark.parametrize("token", [None, "wrong-token", ""], ids=["no token", "wrong token", "empty token"])
def test_api_refuses_calls_without_the_token(servers, method, path, token):
    params = {} if token is None else {"token": token}
    response = requests.request(method, servers.base + path, params=params, json={"text": "hi"}, timeout=30)
    assert response.status_code == 401, (method, path, response.status_code, response.text[:200])


def test_api_answers_with_the_token(servers, sender):
    status = requests.get(f"{servers.base}/status", params={"token": API_TOKEN}, timeout=30)
    assert status.status_code == 200 and "model_file" in status.json()
    servers.say("你好", sender)
    assert servers.user_texts(sender) == ["你好"]


def test_token_in_a_query_string_is_not_logged(servers):
    requests.get(f"{servers.base}/status", params={"token": API_TOKEN}, timeout=30)
    for name, text in servers.logs().items():
        assert API_TOKEN not in text, name
