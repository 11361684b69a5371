"""The web chat page in a real browser, against the real bot.

The servers start once for the session through scripts/run.sh (as `make run`
starts them: action server, Rasa, web page) on ports of their own; the page
runs in headless Chromium from Debian's `chromium` package, driven by
Playwright (which never downloads a browser here). Each test gets a fresh
browser context, so a fresh conversation. Screenshots go to
var/artifacts/browser/.

Without a browser the tests are skipped and say why, except under CI
(CI=true) or with ANXIN_REQUIRE_BROWSER=1, where that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.run_sh import running

ROOT = Path(__file__).resolve().parents[2]
RASA_PORT = int(os.environ.get("ANXIN_BROWSER_RASA_PORT", "5205"))
ACTIONS_PORT = int(os.environ.get("ANXIN_BROWSER_ACTIONS_PORT", "5255"))
WEB_PORT = int(os.environ.get("ANXIN_BROWSER_WEB_PORT", "8280"))
PAGE = f"http://localhost:{WEB_PORT}/"
# Another site's page with the standard rasa-webchat widget (test_rasa_webchat.py): another
# origin, which the servers allow as an operator would (ANXIN_CORS_ORIGIN).
OTHER_SITE_PORT = int(os.environ.get("ANXIN_BROWSER_OTHER_SITE_PORT", str(WEB_PORT + 1)))
OTHER_SITE = f"http://localhost:{OTHER_SITE_PORT}"
WEBHOOK = f"http://localhost:{RASA_PORT}/webhooks/rest/webhook"
ARTIFACTS = ROOT / "var" / "artifacts" / "browser"
START_TIMEOUT = 300
# What a closed network and a container need: no sandbox (root), no GPU, no
# first-run or background traffic, /tmp instead of a small /dev/shm.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--metrics-recording-only",
]
# Replies on a busy 2-core machine can take a while.
TIMEOUT_MS = 60_000


def find_chromium() -> str | None:
    for candidate in (os.environ.get("ANXIN_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true" or os.environ.get("ANXIN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CI must run the browser tests: run `make setup-browser`)")
    pytest.skip(f"{reason}; run `make setup-browser` (Debian: apt-get install chromium)")


@pytest.fixture(scope="session")
def browser():
    executable = find_chromium()
    if executable is None:
        unavailable("no Chromium found (/usr/bin/chromium or ANXIN_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (make setup)")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    except Exception as error:  # any launch failure means "no usable browser"
        playwright.stop()
        unavailable(f"Chromium at {executable} does not start: {error}")
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(scope="session")
def servers(browser, tmp_path_factory):
    """scripts/run.sh with its own ports, tracker database and action endpoint."""
    tmp = tmp_path_factory.mktemp("browser-servers")
    # The project's endpoints file, pointed at this run's action server and databases.
    config = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    config["action_endpoint"]["url"] = f"http://localhost:{ACTIONS_PORT}/webhook"
    if (config.get("tracker_store") or {}).get("dialect") == "sqlite":
        config["tracker_store"]["db"] = str(tmp / "tracker.db")
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (tmp / "log").mkdir()
    env = {
        **os.environ,
        "RASA_PORT": str(RASA_PORT),
        "ACTIONS_PORT": str(ACTIONS_PORT),
        "WEB_PORT": str(WEB_PORT),
        "ANXIN_ENDPOINTS": str(endpoints),
        "ANXIN_LOG_DIR": str(tmp / "log"),
        "ANXIN_INCIDENT_DB_URL": f"sqlite:///{tmp / 'incidents.db'}",
        # Uploaded evidence files (test_evidence.py) beside that database, not in var/evidence.
        "ANXIN_EVIDENCE_DIR": str(tmp / "evidence"),
        # As docs/operators.md tells sites that use the rasa-webchat widget: one worker,
        # because a long-polling Socket.IO session lives in the process that opened it.
        "ANXIN_WORKERS": "1",
    }
    # The page's own origins, as `make run` sets them, and the other site's.
    env["ANXIN_CORS_ORIGIN"] = f"http://localhost:{WEB_PORT} http://127.0.0.1:{WEB_PORT} {OTHER_SITE}"
    ready = [
        f"http://localhost:{ACTIONS_PORT}/health",
        f"http://localhost:{RASA_PORT}/",
        f"http://127.0.0.1:{WEB_PORT}/health",
    ]
    with running(env, tmp / "run.log", ready, START_TIMEOUT) as process:
        yield {"process": process, "log": tmp / "run.log", "logs": tmp / "log"}


@pytest.fixture
def context(browser, servers):
    """A fresh browser profile (so a fresh conversation), phone-sized."""
    context = browser.new_context(
        viewport={"width": 375, "height": 740},
        device_scale_factor=2,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
        has_touch=False,
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


class Chat:
    """The chat page and what a person does on it."""

    def __init__(self, page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # The page must live within its own Content-Security-Policy.
        page.on(
            "console",
            lambda message: (
                self.errors.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )

    def open(self, url: str = PAGE) -> Chat:
        self.page.goto(url)
        return self

    def wait_idle(self) -> None:
        """Until no message is waiting for an answer."""
        self.page.wait_for_function(
            "() => document.getElementById('typing').hidden"
            " && !document.querySelector('.row-user .status:not(.failed)')",
            timeout=TIMEOUT_MS,
        )

    def wait_welcome(self) -> None:
        self.page.locator(".row-bot").first.wait_for()
        self.wait_idle()

    def bot_rows(self) -> int:
        return self.page.locator(".row-bot").count()

    def user_rows(self) -> int:
        return self.page.locator(".row-user").count()

    def say(self, text: str) -> list[str]:
        """Type and press Enter; return the texts of the bot's new messages."""
        before = self.bot_rows()
        self.page.get_by_role("textbox", name="输入消息").fill(text)
        self.page.get_by_role("textbox", name="输入消息").press("Enter")
        return self.wait_reply(before)

    def wait_reply(self, before: int) -> list[str]:
        self.page.wait_for_function(
            f"() => document.querySelectorAll('.row-bot').length > {before}", timeout=TIMEOUT_MS
        )
        self.wait_idle()
        texts = self.page.locator(".row-bot .stack").all_text_contents()[before:]
        return [text.removeprefix("安心说：") for text in texts]

    def chips(self) -> list[str]:
        return self.page.locator(".chips .chip").all_text_contents()

    def sender(self) -> str:
        return self.page.evaluate("window.anxinChat.sender()")

    def no_horizontal_scroll(self) -> None:
        widths = self.page.evaluate(
            "() => { const log = document.getElementById('log-wrap');"
            " return {doc: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
            " log: log ? log.scrollWidth : 0, logClient: log ? log.clientWidth : 0, view: window.innerWidth}; }"
        )
        assert widths["doc"] <= widths["view"], widths
        assert widths["body"] <= widths["view"], widths
        assert widths["log"] <= widths["logClient"], widths

    def screenshot(self, name: str, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def chat(context, request):
    page = context.new_page()
    chat = Chat(page)
    yield chat
    # Every test leaves a picture of where it ended, passed or not.
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        chat.screenshot(f"end-{name}")
    except Exception:  # a screenshot must not hide the test's own result
        pass
    assert not chat.errors, f"JavaScript errors on the page: {chat.errors}"
