"""serving/proxy.py against fake backends on loopback: spreading, failover, retries."""

from __future__ import annotations

import asyncio
import itertools
import socket

import aiohttp
import pytest
from aiohttp import web

from serving.proxy import MESSAGE_ID_HEADER, RETRY_HEADER, Proxy, backend_url, make_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeRasa:
    """A backend answering JSON with its name; records what it received."""

    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay
        self.seen: list[dict] = []
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for message in ws:
                await ws.send_str(f"{self.name}:{message.data}")
            return ws
        body = await request.read()
        self.seen.append({"path": request.path, "headers": dict(request.headers), "body": body})
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({"backend": self.name}, headers={"X-Backend": self.name})

    async def start(self) -> FakeRasa:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()
            self.runner = None


class DyingRasa:
    """A backend that reads the request and dies without answering (as under kill -9)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received = 0
        self.server: asyncio.AbstractServer | None = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.received += 1
        writer.transport.abort()

    async def start(self) -> DyingRasa:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()


class Running:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Running:
        self.runner = web.AppRunner(make_app(self.proxy))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.close()
        await self.runner.cleanup()

    async def post(self, path: str = "/webhooks/rest/webhook", **kwargs) -> tuple[int, dict]:
        async with self.http.post(self.url + path, json={"sender": "u", "message": "你好"}, **kwargs) as r:
            return r.status, await r.json(content_type=None)


def test_backend_urls():
    assert backend_url("5306") == "http://127.0.0.1:5306"
    assert backend_url("http://10.0.0.2:5005/") == "http://10.0.0.2:5005"
    with pytest.raises(ValueError):
        Proxy([])


async def test_requests_are_spread_and_tagged():
    a, b = await FakeRasa("a").start(), await FakeRasa("b").start()
    try:
        async with Running(Proxy([str(a.port), str(b.port)])) as running:
            answers = [await running.post() for _ in range(6)]
            assert all(status == 200 for status, _ in answers)
            assert sorted(body["backend"] for _, body in answers) == ["a"] * 3 + ["b"] * 3
            ids = [seen["headers"][MESSAGE_ID_HEADER] for seen in a.seen + b.seen]
            assert len(set(ids)) == 6  # a fresh id per message
            assert all(RETRY_HEADER not in seen["headers"] for seen in a.seen + b.seen)
            assert all(seen["headers"]["X-Forwarded-For"] == "127.0.0.1" for seen in a.seen)
            # a client's own id is kept; a client cannot claim to be a retry
            await running.post(headers={MESSAGE_ID_HEADER: "client-1", RETRY_HEADER: "1"})
            seen = [s for s in a.seen + b.seen if s["headers"].get(MESSAGE_ID_HEADER) == "client-1"]
            assert len(seen) == 1 and RETRY_HEADER not in seen[0]["headers"]
    finally:
        await a.stop()
        await b.stop()


async def test_the_least_busy_backend_gets_the_request():
    slow, fast = await FakeRasa("slow", delay=0.5).start(), await FakeRasa("fast").start()
    try:
        async with Running(Proxy([str(slow.port), str(fast.port)])) as running:
            first = asyncio.create_task(running.post())  # occupies one backend
            await asyncio.sleep(0.1)
            assert len(slow.seen) == 1  # ties go in turn: the first backend first
            others = [await running.post() for _ in range(3)]
            await first
            assert all(body["backend"] == "fast" for _, body in others)
    finally:
        await slow.stop()
        await fast.stop()


async def test_a_refused_connection_goes_to_the_next_backend():
    alive = await FakeRasa("alive").start()
    dead_port = free_port()
    try:
        async with Running(Proxy([str(dead_port), str(alive.port)], check_interval=60)) as running:
            answers = [await running.post() for _ in range(4)]
            assert [body["backend"] for _, body in answers] == ["alive"] * 4
            assert not running.proxy.backends[0].healthy
            assert all(RETRY_HEADER not in seen["headers"] for seen in alive.seen)  # never reached: no retry flag
    finally:
        await alive.stop()


async def test_a_backend_dying_mid_request_is_retried_once_elsewhere_with_the_same_id():
    dying, alive = await DyingRasa().start(), await FakeRasa("alive").start()
    try:
        proxy = Proxy([str(dying.port), str(alive.port)], check_interval=60)
        proxy._turn = itertools.count(0, 2)  # every first pick goes to the dying one
        async with Running(proxy) as running:
            status, body = await running.post(headers={MESSAGE_ID_HEADER: "m-42"})
            assert (status, body["backend"]) == (200, "alive")
            assert dying.received == 1
            assert alive.seen[-1]["headers"][MESSAGE_ID_HEADER] == "m-42"
            assert alive.seen[-1]["headers"][RETRY_HEADER] == "1"
    finally:
        await dying.stop()
        await alive.stop()


async def test_other_posts_are_not_retried():
    dying, alive = await DyingRasa().start(), await FakeRasa("alive").start()
    try:
        proxy = Proxy([str(dying.port), str(alive.port)], check_interval=60)
        proxy._turn = itertools.count(0, 2)
        async with Running(proxy) as running:
            status, _ = await running.post("/conversations/u/tracker/events")
            assert status == 502
            assert alive.seen == []
    finally:
        await dying.stop()
        await alive.stop()


async def test_no_backend_left_is_a_503_and_a_backend_comes_back():
    port = free_port()
    proxy = Proxy([str(port)], check_interval=0.2)
    async with Running(proxy) as running:
        status, body = await running.post()
        assert status == 503 and "try again" in body["error"]
        assert not proxy.backends[0].healthy
        back = FakeRasa("back")
        back.port = port
        await back.start()
        try:
            for _ in range(50):
                if proxy.backends[0].healthy:
                    break
                await asyncio.sleep(0.1)
            assert proxy.backends[0].healthy
            status, body = await running.post()
            assert (status, body["backend"]) == (200, "back")
        finally:
            await back.stop()


async def test_websockets_are_passed_through():
    a = await FakeRasa("a").start()
    try:
        async with Running(Proxy([str(a.port)])) as running:
            async with running.http.ws_connect(running.url + "/socket.io/?EIO=4&transport=websocket") as ws:
                await ws.send_str("hello")
                message = await ws.receive(timeout=5)
                assert message.data == "a:hello"
    finally:
        await a.stop()


def test_the_rest_channel_passes_the_id_and_retry_flag_to_rasa():
    from types import SimpleNamespace

    from channels.rest import GuardedRestInput

    channel = GuardedRestInput()

    def request(headers, body=None):
        return SimpleNamespace(headers=headers, json=body or {"sender": "u", "message": "hi"})

    assert channel.get_metadata(request({})) is None
    assert channel.get_metadata(request({MESSAGE_ID_HEADER: "m1"})) == {"message_id": "m1"}
    assert channel.get_metadata(request({MESSAGE_ID_HEADER: "m1", RETRY_HEADER: "1"})) == {
        "message_id": "m1",
        "retry": True,
    }
    with_metadata = request({MESSAGE_ID_HEADER: "m1"}, {"sender": "u", "message": "hi", "metadata": {"a": 1}})
    assert channel.get_metadata(with_metadata) == {"a": 1, "message_id": "m1"}
    assert len(channel.get_metadata(request({MESSAGE_ID_HEADER: "x" * 500}))["message_id"]) == 128
