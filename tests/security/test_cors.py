"""CORS: only the web chat's origin gets Access-Control-Allow-Origin, and only
its pages may open a Socket.IO connection."""

import pytest
import requests
import socketio

from tests.security.conftest import WEB_PORT, WIDGET_ORIGIN
from tests.security.test_limits import SocketUser

OTHER_ORIGINS = ["http://evil.example", "https://localhost:8443", f"http://localhost:{WEB_PORT + 1}", "null"]


@pytest.mark.parametrize("origin", OTHER_ORIGINS)
def test_other_origins_get_no_cors_headers(servers, sender, origin):
    preflight = requests.options(
        f"{servers.base}/webhooks/rest/webhook",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    post = requests.post(
        f"{servers.base}/webhooks/rest/webhook",
        json={"sender": sender, "message": "你好"},
        headers={"Origin": origin},
        timeout=30,
    )
    assert "Access-Control-Allow-Origin" not in post.headers


@pytest.mark.parametrize("origin", [WIDGET_ORIGIN, f"http://127.0.0.1:{WEB_PORT}"])
def test_the_widget_origin_is_allowed(servers, sender, origin):
    preflight = requests.options(
        f"{servers.base}/webhooks/rest/webhook",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == origin
    post = requests.post(
        f"{servers.base}/webhooks/rest/webhook",
        json={"sender": sender, "message": "你好"},
        headers={"Origin": origin},
        timeout=30,
    )
    assert post.status_code == 200
    assert post.headers.get("Access-Control-Allow-Origin") == origin


async def test_socketio_refuses_pages_of_other_origins(servers):
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with SocketUser(servers, "http://evil.example"):
            pass


@pytest.mark.parametrize("origin", [WIDGET_ORIGIN, None], ids=["widget page", "no browser"])
async def test_socketio_accepts_the_widget_and_non_browsers(servers, origin):
    async with SocketUser(servers, origin) as user:
        assert user.client.connected
        assert any("安心" in reply for reply in await user.say("你好"))
