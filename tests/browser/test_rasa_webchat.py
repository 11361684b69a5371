"""The standard Rasa web widget, `rasa-webchat` 1.0.1 from the npm registry, on
another site's page (another origin, allowed by ANXIN_CORS_ORIGIN), chatting
with this bot over Socket.IO, as an operator who already uses that widget
would point it at this bot (docs/operators.md, "Using the standard
rasa-webchat widget").

The widget's socket.io-client starts with long polling and then upgrades to
WebSocket. The test requires the upgrade: the bot's reply must arrive in a
WebSocket frame, and no long-poll answer may carry it. (Before the fix in
serving/patches.py the upgrade died on the server with "Passing coroutines is
forbidden": the browser saw "Invalid frame header", and the stalled upgrade
left the session sending nothing at all.)

The widget is fetched once with npm (scripts/fetch_rasa_webchat.sh, pinned
version and checksum) into ~/.cache/anxin/npm/ (or $ANXIN_CACHE/npm/).
"""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import threading
from pathlib import Path

import pytest

from tests.browser.conftest import (
    ARTIFACTS,
    OTHER_SITE,
    OTHER_SITE_PORT,
    RASA_PORT,
    ROOT,
    TIMEOUT_MS,
    unavailable,
)

SOCKET_URL = f"http://localhost:{RASA_PORT}"
MESSAGE = "我儿子欠了借呗，催收天天打我电话"

PAGE = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>某律师事务所</title></head>
<body>
<h1>某律师事务所 · 债务咨询</h1>
<p>右下角可以和安心聊天。</p>
<script src="rasa-webchat-1.0.1.js"></script>
<script>
  // As the widget's README says, with this bot's address.
  window.WebChat.default({
    socketUrl: SOCKET_URL,
    socketPath: "/socket.io/",
    title: "安心",
    subtitle: "催收骚扰应对助手",
    inputTextFieldHint: "输入消息",
    params: {storage: "session"}
  }, null);
</script>
</body>
</html>
"""


@pytest.fixture(scope="module")
def widget_bundle() -> Path:
    """rasa-webchat's browser bundle (lib/index.js), from the cache or fetched once with npm."""
    try:
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "fetch_rasa_webchat.sh")],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        unavailable(f"rasa-webchat could not be fetched: {error}")
    if result.returncode != 0:
        unavailable(f"rasa-webchat could not be fetched: {result.stderr.strip()[-500:]}")
    return Path(result.stdout.strip().splitlines()[-1])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def other_site(widget_bundle, servers, tmp_path_factory):
    """Another site (its own origin, OTHER_SITE) whose page loads the widget and points it at the bot."""
    root = tmp_path_factory.mktemp("other-site")
    (root / "rasa-webchat-1.0.1.js").write_bytes(widget_bundle.read_bytes())
    (root / "index.html").write_text(PAGE.replace("SOCKET_URL", json.dumps(SOCKET_URL)), encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", OTHER_SITE_PORT), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{OTHER_SITE}/index.html"
    server.shutdown()
    server.server_close()


class Transport:
    """What went over the wire between the page and the bot's /socket.io/."""

    def __init__(self, page) -> None:
        self.websockets: list[str] = []
        self.websocket_frames: list[str] = []  # received by the page
        self.websocket_sent: list[str] = []
        self.polls: list = []
        page.on("websocket", self._websocket)
        page.on("response", lambda response: self.polls.append(response) if self._is_poll(response.url) else None)

    @staticmethod
    def _is_poll(url: str) -> bool:
        return url.startswith(f"{SOCKET_URL}/socket.io/") and "transport=polling" in url

    def _websocket(self, ws) -> None:
        if ws.url.startswith(f"ws://localhost:{RASA_PORT}/socket.io/"):
            self.websockets.append(ws.url)
            ws.on("framereceived", lambda payload: self.websocket_frames.append(payload))
            ws.on("framesent", lambda payload: self.websocket_sent.append(payload))

    def bot_messages_over_websocket(self) -> list[str]:
        return [_bot_text(frame) for frame in self.websocket_frames if _bot_text(frame) is not None]

    def poll_bodies(self) -> list[str]:
        bodies = []
        for response in self.polls:
            try:
                bodies.append(response.text())
            except Exception:  # a long poll still open or aborted at the upgrade: carried nothing we saw
                continue
        return bodies


def _bot_text(frame) -> str | None:
    """The text of a Socket.IO ``bot_uttered`` event in an Engine.IO message frame, else None."""
    if not isinstance(frame, str) or not frame.startswith("42"):
        return None
    try:
        event = json.loads(frame[2:])
    except ValueError:
        return None
    if isinstance(event, list) and len(event) >= 2 and event[0] == "bot_uttered" and isinstance(event[1], dict):
        return str(event[1].get("text", ""))
    return None


@pytest.fixture
def widget_page(context, other_site):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    transport = Transport(page)
    yield page, transport, errors
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / "end-rasa-webchat.png"))
    except Exception:  # a screenshot must not hide the test's own result
        pass


def test_rasa_webchat_from_npm_chats_over_websocket(widget_page, other_site, servers):
    page, transport, errors = widget_page
    page.goto(other_site)
    assert page.evaluate("location.origin") == OTHER_SITE != f"http://localhost:{RASA_PORT}"

    # The widget shows its launcher once connected (hideWhenNotConnected), then opens.
    page.locator(".rw-launcher").click(timeout=TIMEOUT_MS)
    box = page.locator(".rw-new-message")
    box.wait_for(timeout=TIMEOUT_MS)
    # socket.io-client polls first, then upgrades: wait until it has sent Engine.IO's
    # "upgrade" packet over the WebSocket, so that the message below must use it.
    for _ in range(TIMEOUT_MS // 250):
        if "5" in transport.websocket_sent:
            break
        page.wait_for_timeout(250)
    assert transport.websockets, "the widget never opened a WebSocket to the bot"
    assert "5" in transport.websocket_sent, f"no upgrade to WebSocket: {transport.websocket_frames[:5]}"

    box.fill(MESSAGE)
    box.press("Enter")
    # The bot's answer comes over the WebSocket; the widget shows its bubbles one by one
    # (its typing delay, up to 3 s each), until it shows all of them.
    over_websocket: list[str] = []
    shown: list[str] = []
    for _ in range(3 * TIMEOUT_MS // 250):
        over_websocket = [text.strip() for text in transport.bot_messages_over_websocket() if text.strip()]
        shown = [text.strip() for text in page.locator(".rw-response").all_text_contents() if text.strip()]
        if over_websocket and shown == over_websocket:
            page.wait_for_timeout(1000)  # nothing more comes
            if len(transport.bot_messages_over_websocket()) == len(over_websocket):
                break
        page.wait_for_timeout(250)
    page.screenshot(path=str(ARTIFACTS / "rasa-webchat.png"))
    assert over_websocket, f"no bot message over the WebSocket: {transport.websocket_frames}"
    assert shown == over_websocket, (shown, over_websocket)
    # No long poll carried a bot message.
    assert not [body for body in transport.poll_bodies() if "bot_uttered" in body]
    assert "借呗" in "".join(shown) or "催收" in "".join(shown), shown  # an answer to this message
    # Opening the widget (no initPayload) sends an empty message: ignored, not "I did not understand".
    assert not any("没太明白" in text for text in shown), shown
    # The page stayed healthy; the server logged no failure of the transport.
    assert not errors, errors
    log = (Path(servers["logs"]) / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "Passing coroutines is forbidden" not in log
