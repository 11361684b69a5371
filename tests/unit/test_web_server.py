"""scripts/web_server.py: the static server behind the web chat page."""

from __future__ import annotations

import importlib.util
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("web_server", ROOT / "scripts" / "web_server.py")
web_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(web_server)


@pytest.fixture
def settings():
    return web_server.Settings(rasa_port=5005, rasa_url=None, frame_ancestors="*", web_dir=ROOT / "web")


@pytest.fixture
def base(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), web_server.make_handler(settings))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost:8080", "localhost"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("chat.example.org", "chat.example.org"),
        ("[::1]:8080", "[::1]"),
        (None, "localhost"),
        ("evil.com/<script>:80", "localhost"),
        ('a"b:80', "localhost"),
    ],
)
def test_host_name(header, host):
    assert web_server.host_name(header) == host


def test_rasa_url_follows_the_page_host_unless_configured(settings):
    assert web_server.rasa_url_for(settings, "127.0.0.1:8080") == "http://127.0.0.1:5005"
    configured = web_server.Settings(5005, "https://chat.example.org/", "*", ROOT / "web")
    assert web_server.rasa_url_for(configured, "localhost:8080") == "https://chat.example.org"


@pytest.mark.parametrize(
    "path",
    ["/../README.md", "/%2e%2e/README.md", "/.hidden", "/web/../../etc/passwd", "/nope.html", "//etc/passwd", "/"],
)
def test_resolve_stays_in_the_web_folder(settings, path):
    found = web_server.resolve(settings, path)
    if path == "/":
        assert found == (ROOT / "web" / "index.html").resolve()
    else:
        assert found is None


def test_pages_and_config(base):
    page = requests.get(base + "/", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self' http://127.0.0.1:5005" in csp
    assert "frame-ancestors *" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "安心" in page.text

    config = requests.get(base + "/config.js", headers={"Host": "localhost:8080"}, timeout=5)
    assert config.headers["Content-Type"].startswith("text/javascript")
    assert config.text == (
        'window.ANXIN_CONFIG = {"rasaUrl": "http://localhost:5005", "restPath": "/webhooks/rest/webhook"};\n'
    )
    for name in ("chat.js", "chat.css", "embed.js", "embed-demo.html", "favicon.svg"):
        assert requests.get(f"{base}/{name}", timeout=5).status_code == 200, name
    assert requests.get(base + "/health", timeout=5).text == "ok\n"


def test_refuses_what_is_not_a_page(base):
    assert requests.get(base + "/../README.md", timeout=5).status_code == 404
    assert requests.get(base + "/missing.js", timeout=5).status_code == 404
    assert requests.post(base + "/", data="x", timeout=5).status_code == 405
    head = requests.head(base + "/chat.js", timeout=5)
    assert head.status_code == 200 and head.text == ""
