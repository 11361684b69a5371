"""Socket.IO over WebSocket against the real server (Rasa 3.6 on Sanic 21.12, Python 3.11).

Spoken at the Engine.IO level with the `websockets` package: python-socketio's
own client cannot use WebSocket with the aiohttp Rasa 3.6 pins, and speaking
the protocol directly shows exactly which transport carried what. Broken before
serving/patches.py fixed Sanic's WebSocket receive ("Passing coroutines is
forbidden"): the server dropped the socket at the first message it read.

Engine.IO v4 packets: 0 open, 2/3 ping/pong, 4 message, 5 upgrade, 6 noop;
Socket.IO v5 inside a message: 0 connect, 2 event, 4 connect error.

These servers run the default two workers, so only single-connection
(WebSocket-only) sessions are tested here: long polling and its upgrade need
one worker (docs/operators.md) and are tested with the rasa-webchat widget in
tests/browser/test_rasa_webchat.py.
"""

from __future__ import annotations

import json

import websockets

from tests.server.conftest import WEB_PORT
from tests.socketio_ws import TIMEOUT, SocketIO, ws_url

WIDGET_ORIGIN = f"http://localhost:{WEB_PORT}"  # allowed by default (run.sh: the web chat's own)


async def test_websocket_only_client_chats(servers):
    # As a client that allows WebSocket only (transports: ["websocket"]).
    async with websockets.connect(ws_url(servers["base"]), origin=WIDGET_ORIGIN, open_timeout=TIMEOUT) as ws:
        client = SocketIO(ws)
        opened = await client.packet()
        assert opened.startswith("0{") and json.loads(opened[1:])["sid"]
        await ws.send("40")
        assert (await client.packet()).startswith("40{")
        session = await client.start_session()
        first = await client.say(session, "我儿子欠了借呗，催收天天打我电话")
        second = await client.say(session, "半夜打电话，还骂人")
        assert all(first) and all(second)
        assert any("借呗" in reply or "蚂蚁" in reply for reply in first), first


async def test_websocket_from_a_page_of_another_origin_is_refused(servers):
    async with websockets.connect(
        ws_url(servers["base"]), origin="http://evil.example", open_timeout=TIMEOUT
    ) as ws:
        client = SocketIO(ws)
        assert (await client.packet()).startswith("0{")
        await ws.send("40")
        refused = await client.packet()
        assert refused.startswith("44"), refused  # Socket.IO's connect error


async def test_an_empty_message_gets_no_reply_and_greet_the_welcome(servers):
    # rasa-webchat sends {"message": null} when it opens without an initPayload, and its
    # initPayload when it has one ("/greet" in docs/operators.md).
    async with websockets.connect(ws_url(servers["base"]), origin=WIDGET_ORIGIN, open_timeout=TIMEOUT) as ws:
        client = SocketIO(ws)
        await client.packet()
        await ws.send("40")
        await client.packet()
        session = await client.start_session()
        await client.emit("user_uttered", {"message": None, "session_id": session})
        await client.emit("user_uttered", {"message": "  ", "session_id": session})
        replies = await client.say(session, "/greet")
        assert not any("没太明白" in reply for reply in replies), replies
        assert "安心" in replies[0], replies
