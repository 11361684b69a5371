"""nginx in front of the scaled profile's Rasa processes (scripts/run.sh,
serving/nginx.conf.template): its configuration, message ids, the body cap,
Socket.IO over both transports, nothing personal in its log. The tests with
``cluster`` run before tests/faults/test_scaled_faults.py, on the same
processes, while all of them are alive."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
import uuid

import pytest
import requests
import socketio
import websockets

from serving import nginx_conf
from tests.faults.conftest import WEB_PORT, User
from tests.socketio_ws import TIMEOUT, SocketIO, ws_url

ORIGIN = f"http://127.0.0.1:{WEB_PORT}"  # the web chat page's, which Socket.IO lets in


def test_the_configuration_renders_and_nginx_accepts_it(tmp_path):
    nginx = nginx_conf.find_nginx()
    if nginx is None:
        message = "nginx is not installed (make setup-nginx)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    nginx_conf.main(
        [
            "--listen",
            "127.0.0.1:5999",
            "--backend",
            "5998",
            "--backend",
            "127.0.0.1:5997",
            "--prefix",
            str(tmp_path),
        ]
    )
    text = (tmp_path / "nginx.conf").read_text()
    assert not re.search(r"@[A-Z_]+@", text)  # every placeholder filled
    assert "server 127.0.0.1:5998 max_fails=1" in text and "server 127.0.0.1:5997 max_fails=1" in text
    assert "proxy_next_upstream_tries 2;" in text and "access_log off;" in text
    assert f"pid {tmp_path}/nginx.pid;" in text
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    with pytest.raises(ValueError):
        nginx_conf.render("127.0.0.1:5999", [], tmp_path)


def test_every_message_gets_an_id_once_and_a_clients_own_is_kept(cluster):
    user = User(cluster.nginx)
    user.say("你好")
    own = f"client-{uuid.uuid4().hex}"
    first = user.say("借呗", headers={"X-Anxin-Message-Id": own})
    # The same message sent again (a client's own retry): the stored answer, not a second one.
    assert user.say("借呗", headers={"X-Anxin-Message-Id": own}) == first
    ids = [m.get("message_id") for m in cluster.user_messages(user.sender)]
    assert len(ids) == 2 and re.fullmatch(r"[0-9a-f]{32}", ids[0]) and ids[1] == own


def test_bodies_over_the_cap_are_refused_and_the_log_names_no_one(cluster):
    openid = f"o-secret-{uuid.uuid4().hex[:12]}"
    big = requests.post(
        f"{cluster.nginx}/webhooks/wechat/webhook?openid={openid}&signature=x",
        data=b"x" * (1024 * 1024 + 1),
        timeout=30,
    )
    assert big.status_code == 413
    # Just under the cap, it reaches Rasa (whose guard answers that it is too long).
    user = User(cluster.nginx)
    assert user.say("啊" * 150_000)  # 900 kB of JSON, as "\\u554a" each
    time.sleep(0.5)
    log = cluster.log("nginx.log")
    assert "too large body" in log
    assert openid not in log and "client: " not in log and "127.0.0.1, server" not in log


async def _polling_conversation(base: str, texts: list[str]) -> list[list[str]]:
    """The web widget's way without WebSocket: many HTTP requests, which must reach one process."""
    client = socketio.AsyncClient(reconnection=False)
    replies: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Queue = asyncio.Queue()
    client.on("bot_uttered", lambda data: replies.put_nowait(data.get("text", "")))
    client.on("session_confirm", lambda data: confirmed.put_nowait(data))
    session = uuid.uuid4().hex
    await client.connect(base, headers={"Origin": ORIGIN}, transports=["polling"], wait_timeout=15)
    try:
        await client.emit("session_request", {"session_id": session})
        assert await asyncio.wait_for(confirmed.get(), 15) == session
        answers = []
        for text in texts:
            await client.emit("user_uttered", {"message": text, "session_id": session})
            answer = [await asyncio.wait_for(replies.get(), 60)]
            while True:  # the rest of this answer's bubbles
                try:
                    answer.append(await asyncio.wait_for(replies.get(), 1.5))
                except TimeoutError:
                    break
            answers.append(answer)
        return answers
    finally:
        # Leave without waiting for a pending long poll (held up to 25 s), as a closed tab does.
        await client.eio.disconnect(abort=True)
        loops = [getattr(client.eio, name, None) for name in ("read_loop_task", "write_loop_task")]
        loops = [task for task in loops if task is not None and not task.done()]
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if getattr(client.eio, "http", None) is not None and not client.eio.http.closed:
            await client.eio.http.close()


async def test_a_websocket_chat_passes_through_nginx(cluster):
    # A client that allows WebSocket only: the upgrade, the session and a real answer all
    # cross nginx (its Upgrade/Connection headers); one connection stays on one backend.
    async with websockets.connect(ws_url(cluster.nginx), origin=ORIGIN, open_timeout=TIMEOUT) as ws:
        client = SocketIO(ws)
        assert (await client.packet()).startswith("0{")
        await ws.send("40")
        assert (await client.packet()).startswith("40{")
        session = await client.start_session()
        replies = await client.say(session, "我老公在借呗逾期了，催收天天给我打电话")
        assert replies and all(replies), replies


async def test_socketio_polling_stays_on_one_process(cluster):
    # Without ip_hash, the polls of one session would reach both processes: "Invalid session".
    answers = await _polling_conversation(cluster.nginx, ["你好", "借呗", "谢谢"])
    assert len(answers) == 3 and all(all(bubbles) for bubbles in answers)
