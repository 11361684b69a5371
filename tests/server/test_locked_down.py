"""The default servers (no RASA_API_TOKEN): Rasa's HTTP API is not served at
all, and request bodies are capped. (With a token: tests/security.)"""

import pytest
import requests

API = [
    ("GET", "/status"),
    ("GET", "/conversations/someone/tracker"),
    ("POST", "/conversations/someone/messages"),
    ("POST", "/conversations/someone/trigger_intent"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("POST", "/model/train"),
    ("GET", "/domain"),
]


@pytest.mark.parametrize("method, path", API, ids=[f"{m} {p}" for m, p in API])
def test_http_api_is_not_served_without_a_token(servers, method, path):
    for params in ({}, {"token": "anything"}):
        response = requests.request(
            method, servers["base"] + path, params=params, json={"text": "hi"}, timeout=10
        )
        assert response.status_code in (404, 405), (method, path, response.status_code)


def test_oversized_bodies_are_refused_before_parsing(servers):
    body = b'{"sender": "x", "message": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    try:
        response = requests.post(
            f"{servers['base']}/webhooks/rest/webhook",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
    except requests.ConnectionError:
        return  # the server may close the connection while the body is still being sent
    assert response.status_code == 413
