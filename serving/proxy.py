"""A small reverse proxy in front of several Rasa processes (scaled profile).

    python -m serving.proxy --port 5005 --backend 5006 --backend 5007

Backends are ports on 127.0.0.1 or URLs. What it does, and why:

- **Least busy first.** Each request goes to the healthy backend with the
  fewest requests in flight (ties in turn). Any process can answer any
  conversation: trackers are in PostgreSQL and Redis locks each
  conversation, so two messages of one user never run at once.
- **A dead process loses no message.** When a backend refuses the
  connection, the request goes to the next one. When a backend dies with the
  request in flight (connection reset, no answer), the request is sent again
  to another backend, once per backend, with ``X-Anxin-Retry: 1``; only
  the chat webhooks (``--retry-path``) and GET/HEAD are retried. Every POST
  carries an ``X-Anxin-Message-Id`` (the client's, or a new one), which the
  REST channel stores as the message id: if the dead process had already
  saved the answer, the retry gets the stored answer instead of a second one
  (serving/patches.py). A dead backend is skipped until ``GET /`` answers
  again (checked every ``--check-interval`` seconds).
- **Socket.IO** (``/socket.io/``, the web widget) keeps a client on one
  backend (by client address), and WebSocket upgrades are passed through.
- Bodies over ``--max-body`` bytes are refused (413); responses are passed
  through unchanged; there is no access log (no sender ids in logs).

For production, nginx (or any proxy) with the same idea works; see the
README, “Scaled profile”. WeChat needs 443/80 in front anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

logger = logging.getLogger("serving.proxy")

MESSAGE_ID_HEADER = "X-Anxin-Message-Id"
RETRY_HEADER = "X-Anxin-Retry"
DEFAULT_RETRY_PATHS = ("/webhooks/rest/webhook", "/webhooks/wechat/webhook")
STICKY_PREFIX = "/socket.io"
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Trailers",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
    )
)
# Errors after which the request may or may not have reached Rasa.
IN_FLIGHT_ERRORS = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError)


@dataclass(eq=False)
class Backend:
    url: str
    healthy: bool = True
    in_flight: int = 0
    failures: int = 0
    down_since: float = field(default=0.0)

    def mark_down(self, reason: str) -> None:
        if self.healthy:
            logger.warning("proxy.backend.down backend=%s reason=%s", self.url, reason)
        self.healthy = False
        self.failures += 1
        self.down_since = time.monotonic()

    def mark_up(self) -> None:
        if not self.healthy:
            logger.warning("proxy.backend.up backend=%s", self.url)
        self.healthy = True


def backend_url(value: str) -> str:
    value = value.strip()
    if value.isdigit():
        return f"http://127.0.0.1:{value}"
    return value.rstrip("/")


class Proxy:
    def __init__(
        self,
        backends: Iterable[str],
        retry_paths: Iterable[str] = DEFAULT_RETRY_PATHS,
        timeout: float = 60.0,
        check_interval: float = 1.0,
    ) -> None:
        self.backends = [Backend(backend_url(b)) for b in backends]
        if not self.backends:
            raise ValueError("at least one backend is needed")
        self.retry_paths = frozenset(retry_paths)
        self.timeout = timeout
        self.check_interval = check_interval
        self._turn = itertools.count()
        self._session: aiohttp.ClientSession | None = None
        self._checker: asyncio.Task | None = None

    # --- life cycle ---------------------------------------------------------------------------------

    async def start(self, _app: web.Application | None = None) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3.0)  # under Sanic's 5 s keep-alive
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._checker = asyncio.create_task(self._check_loop())

    async def stop(self, _app: web.Application | None = None) -> None:
        if self._checker:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
        if self._session:
            await self._session.close()

    async def _check_loop(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            await asyncio.gather(*(self._check(b) for b in self.backends if not b.healthy))

    async def _check(self, backend: Backend) -> None:
        assert self._session is not None
        try:
            async with self._session.get(
                backend.url + "/", timeout=aiohttp.ClientTimeout(total=max(self.check_interval, 1.0))
            ) as response:
                await response.read()
                if response.status == 200:
                    backend.mark_up()
        except Exception:
            pass

    # --- choosing a backend -------------------------------------------------------------------------

    def pick(self, tried: set[Backend], sticky_key: str | None = None) -> Backend | None:
        candidates = [b for b in self.backends if b not in tried]
        if not candidates:
            return None
        healthy = [b for b in candidates if b.healthy] or candidates  # all down: try anyway
        if sticky_key is not None:
            digest = int(hashlib.sha256(sticky_key.encode()).hexdigest()[:8], 16)
            return healthy[digest % len(healthy)]
        least = min(b.in_flight for b in healthy)
        best = [b for b in healthy if b.in_flight == least]
        return best[next(self._turn) % len(best)]

    # --- forwarding ---------------------------------------------------------------------------------

    @staticmethod
    def forward_headers(request: web.Request) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        for key in list(headers):  # only the proxy says a request is a retry
            if key.lower() == RETRY_HEADER.lower():
                del headers[key]
        peer = request.remote or ""
        previous = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{previous}, {peer}" if previous else peer
        headers.setdefault("X-Forwarded-Proto", request.scheme)
        if request.host:
            headers.setdefault("X-Forwarded-Host", request.host)
        return headers

    def retryable(self, request: web.Request) -> bool:
        return request.method in ("GET", "HEAD") or request.path in self.retry_paths

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        body = await request.read()
        headers = self.forward_headers(request)
        if request.method == "POST" and not any(k.lower() == MESSAGE_ID_HEADER.lower() for k in headers):
            headers[MESSAGE_ID_HEADER] = uuid.uuid4().hex
        sticky = (request.remote or "") if request.path.startswith(STICKY_PREFIX) else None
        tried: set[Backend] = set()
        while True:
            backend = self.pick(tried, sticky)
            if backend is None:
                return web.json_response(
                    {"error": "no Rasa process is available; please try again shortly"}, status=503
                )
            tried.add(backend)
            backend.in_flight += 1
            try:
                assert self._session is not None
                async with self._session.request(
                    request.method,
                    backend.url + request.path_qs,
                    headers=headers,
                    data=body if body else None,
                    allow_redirects=False,
                ) as upstream:
                    payload = await upstream.read()
                    out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
                    return web.Response(status=upstream.status, body=payload, headers=out_headers)
            except aiohttp.ClientConnectorError as error:
                backend.mark_down(type(error).__name__)  # never reached the backend: try the next
                continue
            except IN_FLIGHT_ERRORS as error:
                backend.mark_down(type(error).__name__)
                if not self.retryable(request):
                    return web.json_response({"error": "the Rasa process failed"}, status=502)
                headers[RETRY_HEADER] = "1"
                logger.warning("proxy.retry path=%s error=%s", request.path, type(error).__name__)
                continue
            except TimeoutError:
                return web.json_response({"error": "Rasa did not answer in time"}, status=504)
            finally:
                backend.in_flight -= 1

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        backend = self.pick(set(), request.remote or "")
        assert backend is not None and self._session is not None
        headers = {
            k: v
            for k, v in self.forward_headers(request).items()
            if not k.lower().startswith("sec-websocket")
        }
        protocols = [
            p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
        ]
        try:
            upstream = await self._session.ws_connect(
                backend.url + request.path_qs,
                headers=headers,
                protocols=protocols,
                timeout=10,
                autoping=False,
            )
        except aiohttp.ClientError as error:
            backend.mark_down(type(error).__name__)
            return web.json_response({"error": "no Rasa process is available"}, status=503)
        client = web.WebSocketResponse(protocols=protocols, autoping=False)
        await client.prepare(request)

        async def pump(source, sink) -> None:
            async for message in source:
                if message.type == aiohttp.WSMsgType.TEXT:
                    await sink.send_str(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    await sink.send_bytes(message.data)
                elif message.type == aiohttp.WSMsgType.PING:
                    await sink.ping(message.data)
                elif message.type == aiohttp.WSMsgType.PONG:
                    await sink.pong(message.data)
                else:
                    break

        backend.in_flight += 1
        try:
            tasks = [asyncio.create_task(pump(client, upstream)), asyncio.create_task(pump(upstream, client))]
            _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        finally:
            backend.in_flight -= 1
            await upstream.close()
            await client.close()
        return client


def make_app(proxy: Proxy, max_body: int = 1024 * 1024) -> web.Application:
    app = web.Application(client_max_size=max_body)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    app.on_startup.append(proxy.start)
    app.on_cleanup.append(proxy.stop)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.proxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("ANXIN_PROXY_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", "5005")))
    parser.add_argument(
        "--backend", action="append", default=[], help="a port on 127.0.0.1 or a URL (repeat)"
    )
    parser.add_argument(
        "--retry-path", action="append", default=None, help="POST paths safe to retry (repeat)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a backend may take to answer")
    parser.add_argument("--check-interval", type=float, default=1.0)
    parser.add_argument("--max-body", type=int, default=1024 * 1024)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    proxy = Proxy(
        args.backend,
        retry_paths=args.retry_path or DEFAULT_RETRY_PATHS,
        timeout=args.timeout,
        check_interval=args.check_interval,
    )
    web.run_app(make_app(proxy, args.max_body), host=args.host, port=args.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
