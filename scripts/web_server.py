"""Serve the web chat page (web/) for `make run`.

A small static server, standard library only:

- ``/`` is ``web/index.html``; other files of ``web/`` by name (no listing,
  nothing outside ``web/``, no dot-files);
- ``/config.js`` is generated: it tells the page where Rasa's REST channel is
  (``--rasa-url``, or the host the page was opened on with ``--rasa-port``);
- ``/health`` answers ``ok`` (for scripts/wait_ready.py).

Every answer carries a Content-Security-Policy that lets the page run only
its own scripts and talk only to Rasa, so even a bug that put bot or user
text into HTML could not run a script. The page may be framed by any site
(the embeddable widget) unless ``--frame-ancestors`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
WEB_DIR = ROOT / "web"
REST_PATH = "/webhooks/rest/webhook"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
_HOSTNAME = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})$")


class Settings:
    def __init__(self, rasa_port: int, rasa_url: str | None, frame_ancestors: str, web_dir: Path) -> None:
        self.rasa_port = rasa_port
        self.rasa_url = rasa_url.rstrip("/") if rasa_url else None
        self.frame_ancestors = frame_ancestors
        self.web_dir = web_dir.resolve()


def host_name(host_header: str | None) -> str:
    """The host part of a Host header ("localhost:8080" → "localhost"), or
    "localhost" when it is missing or not a plain host name."""
    host = (host_header or "").strip()
    if host.startswith("["):
        host = host.split("]", 1)[0] + "]"
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host if host and _HOSTNAME.match(host) else "localhost"


def rasa_url_for(settings: Settings, host_header: str | None) -> str:
    """Where the page should send messages: the configured URL, or Rasa's port
    on the host the page itself was opened on (so localhost and 127.0.0.1 both work)."""
    if settings.rasa_url:
        return settings.rasa_url
    return f"http://{host_name(host_header)}:{settings.rasa_port}"


def config_js(rasa_url: str) -> str:
    config = {"rasaUrl": rasa_url, "restPath": REST_PATH}
    return "window.ANXIN_CONFIG = " + json.dumps(config, ensure_ascii=False) + ";\n"


def security_headers(settings: Settings, rasa_url: str) -> dict[str, str]:
    parts = urlsplit(rasa_url)
    rasa_origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    connect = " ".join(x for x in ("'self'", rasa_origin) if x)
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src {connect}; frame-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {settings.frame_ancestors}"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def resolve(settings: Settings, url_path: str) -> Path | None:
    """The file under the web folder for a URL path, or None."""
    path = unquote(urlsplit(url_path).path)
    if path in ("", "/"):
        path = "/index.html"
    parts = [p for p in path.split("/") if p]
    if not parts or any(p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
        return None
    candidate = (settings.web_dir / Path(*parts)).resolve()
    if settings.web_dir not in candidate.parents or not candidate.is_file():
        return None
    if candidate.suffix not in CONTENT_TYPES:
        return None
    return candidate


def make_handler(settings: Settings) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "anxin-web"
        sys_version = ""

        def _send(self, status: int, body: bytes, content_type: str, head_only: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in security_headers(settings, rasa_url_for(settings, self.headers.get("Host"))).items():
                self.send_header(name, value)
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

        def _serve(self, head_only: bool) -> None:
            path = urlsplit(self.path).path
            if path == "/health":
                self._send(200, b"ok\n", "text/plain; charset=utf-8", head_only)
                return
            if path == "/config.js":
                body = config_js(rasa_url_for(settings, self.headers.get("Host"))).encode("utf-8")
                self._send(200, body, CONTENT_TYPES[".js"], head_only)
                return
            file = resolve(settings, self.path)
            if file is None:
                self._send(404, "找不到这个页面。\n".encode(), "text/plain; charset=utf-8", head_only)
                return
            self._send(200, file.read_bytes(), CONTENT_TYPES[file.suffix], head_only)

        def do_GET(self) -> None:
            self._serve(head_only=False)

        def do_HEAD(self) -> None:
            self._serve(head_only=True)

        def _refuse(self) -> None:
            self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

        def log_message(self, format: str, *args) -> None:
            # Paths only: the page's messages never pass through this server.
            sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the 安心 web chat page.")
    parser.add_argument("--host", default=os.environ.get("WEB_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", "8080")))
    parser.add_argument("--rasa-port", type=int, default=int(os.environ.get("RASA_PORT", "5005")))
    parser.add_argument(
        "--rasa-url",
        default=os.environ.get("ANXIN_WEB_RASA_URL") or None,
        help="Rasa's public base URL for the page (default: the page's own host on --rasa-port)",
    )
    parser.add_argument(
        "--frame-ancestors",
        default=os.environ.get("ANXIN_WEB_FRAME_ANCESTORS", "*"),
        help="CSP frame-ancestors: which sites may embed the page (default: any)",
    )
    args = parser.parse_args(argv)
    settings = Settings(args.rasa_port, args.rasa_url, args.frame_ancestors, WEB_DIR)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(settings))
    server.daemon_threads = True

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"serving {WEB_DIR} on http://{args.host}:{args.port}/ (Rasa: {settings.rasa_url or f':{args.rasa_port}'})")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
