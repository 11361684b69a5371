"""A fake WeChat API on 127.0.0.1: /cgi-bin/token, /cgi-bin/message/custom/send
and /cgi-bin/media/get.

Stands in for https://api.weixin.qq.com when the bot runs with
WECHAT_API_BASE=http://127.0.0.1:<port>, and records what it receives so
tests (and scripts/wechat_sim.py) can see the replies pushed through the
customer-service API. Behaves like WeChat where it matters: wrong AppID or
secret → 40013/40125, a stale token → 40001, text over 2048 bytes → 45002.
Media: a test registers bytes for a media id (``add_media``), as if the user
had sent that image; an unknown id gets WeChat's JSON error 40007.

    python -m tests.fake_wechat_api --port 5177   # print pushed messages
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

MAX_TEXT_BYTES = 2048


class FakeWeChatAPI:
    """The fake server; ``start()`` runs it in a daemon thread, ``stop()`` ends it."""

    def __init__(
        self,
        port: int = 0,
        appid: str = "wx-test-appid",
        secret: str = "test-secret",
        expires_in: int = 7200,
        on_message: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.expires_in = expires_in
        self.on_message = on_message
        self.delay = 0.0  # seconds before each answer
        self._requested_port = port
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # --- control and inspection (test side) ---

    def reset(self) -> None:
        with self._lock:
            self.token_requests: list[dict[str, str]] = []
            self.messages: list[dict[str, Any]] = []
            self.refused: list[dict[str, Any]] = []
            self._issued = 0
            self._valid_token: str | None = None
            self._fail_next: list[int] = []
            self.media: dict[str, tuple[bytes, str]] = {}
            self.media_requests: list[str] = []  # media ids asked for, in order
            self.media_served: list[str] = []  # media ids whose bytes went out (a valid token, a known id)

    def expire_token(self) -> None:
        """Make the current token stale, as when another process fetched a new one."""
        with self._lock:
            self._valid_token = None

    def fail_next(self, errcode: int) -> None:
        """Refuse the next send with ``errcode`` (once)."""
        with self._lock:
            self._fail_next.append(errcode)

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """Serve ``data`` for ``media_id`` at /cgi-bin/media/get (what a user's image is)."""
        with self._lock:
            self.media[media_id] = (bytes(data), content_type)

    def downloads_of(self, media_id: str) -> int:
        """How many times the bytes of ``media_id`` were sent (refused calls do not count)."""
        with self._lock:
            return self.media_served.count(media_id)

    def messages_to(self, openid: str) -> list[str]:
        with self._lock:
            return [m["text"]["content"] for m in self.messages if m.get("touser") == openid]

    def wait_for(self, openid: str, count: int = 1, timeout: float = 30.0) -> list[str]:
        """The texts pushed to ``openid`` once there are ``count`` of them (or at ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [m["text"]["content"] for m in self.messages if m.get("touser") == openid]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    return found
                self._lock.wait(min(remaining, 0.5))

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeWeChatAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                return None

            def _answer(self, data: dict[str, Any]) -> None:
                if fake.delay:
                    time.sleep(fake.delay)
                body = json.dumps(data, ensure_ascii=False).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer_file(self, data: bytes, content_type: str, name: str) -> None:
                if fake.delay:
                    time.sleep(fake.delay)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-disposition", f'attachment; filename="{name}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/cgi-bin/media/get":
                    found = fake._media(query.get("access_token", ""), query.get("media_id", ""))
                    if isinstance(found, dict):
                        return self._answer(found)
                    data, content_type = found
                    return self._answer_file(data, content_type, f"{query['media_id']}.jpg")
                if url.path != "/cgi-bin/token":
                    return self._answer({"errcode": 404, "errmsg": "no such API"})
                self._answer(fake._token(query))

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, 1 << 20))
                if url.path != "/cgi-bin/message/custom/send":
                    return self._answer({"errcode": 404, "errmsg": "no such API"})
                self._answer(fake._send(query.get("access_token", ""), raw))

        self._server = ThreadingHTTPServer(("127.0.0.1", self._requested_port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-wechat-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeWeChatAPI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- WeChat's behaviour (server side) ---

    def _token(self, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.token_requests.append(query)
            if query.get("grant_type") != "client_credential":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            if query.get("appid") != self.appid:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("secret") != self.secret:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            self._issued += 1
            self._valid_token = f"fake-token-{self._issued}"
            return {"access_token": self._valid_token, "expires_in": self.expires_in}

    def _media(self, token: str, media_id: str) -> dict[str, Any] | tuple[bytes, str]:
        with self._lock:
            self.media_requests.append(media_id)
            if not token or token != self._valid_token:
                return {
                    "errcode": 40001,
                    "errmsg": "invalid credential, access_token is invalid or not latest",
                }
            if media_id not in self.media:
                return {"errcode": 40007, "errmsg": "invalid media_id"}
            self.media_served.append(media_id)
            return self.media[media_id]

    def _send(self, token: str, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError:
            return {"errcode": 47001, "errmsg": "data format error"}
        with self._lock:
            if not token or token != self._valid_token:
                self.refused.append({"errcode": 40001, **data})
                return {
                    "errcode": 40001,
                    "errmsg": "invalid credential, access_token is invalid or not latest",
                }
            if self._fail_next:
                errcode = self._fail_next.pop(0)
                self.refused.append({"errcode": errcode, **data})
                return {"errcode": errcode, "errmsg": "refused by the fake"}
            content = ((data.get("text") or {}).get("content")) if isinstance(data, dict) else None
            if data.get("msgtype") != "text" or not isinstance(content, str) or not data.get("touser"):
                return {"errcode": 47001, "errmsg": "data format error"}
            if len(content.encode("utf-8")) > MAX_TEXT_BYTES:
                self.refused.append({"errcode": 45002, **data})
                return {"errcode": 45002, "errmsg": "content size out of limit"}
            self.messages.append({**data, "token": token, "received": time.time()})
            self._lock.notify_all()
        if self.on_message:
            self.on_message(data)
        return {"errcode": 0, "errmsg": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=5177)
    parser.add_argument("--appid", default="wx-test-appid")
    parser.add_argument("--secret", default="test-secret")
    args = parser.parse_args()

    def show(data: dict[str, Any]) -> None:
        print(f"[customer-service API → {data['touser']}]\n{data['text']['content']}\n", flush=True)

    fake = FakeWeChatAPI(args.port, args.appid, args.secret, on_message=show).start()
    print(f"fake WeChat API on {fake.base} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
