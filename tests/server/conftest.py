"""Start the real servers (through scripts/run.sh, as `make run` does) once
for the whole module, on ports of their own, and talk to them over HTTP."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import requests

from scripts.wechat_sim import WeChatSim
from tests.fake_wechat_api import FakeWeChatAPI
from tests.run_sh import running

ROOT = Path(__file__).resolve().parents[2]
RASA_PORT = int(os.environ.get("ANXIN_TEST_RASA_PORT", "5105"))
ACTIONS_PORT = int(os.environ.get("ANXIN_TEST_ACTIONS_PORT", "5155"))
# run.sh also serves the web chat page: off `make run`'s 8080, and apart for
# each choice of ANXIN_TEST_RASA_PORT (5105 → 8105), so parallel runs don't collide.
WEB_PORT = int(os.environ.get("ANXIN_TEST_WEB_PORT", str(RASA_PORT + 3000)))
START_TIMEOUT = 300
# The WeChat channel's settings for the servers under test; its API calls go to the
# fake WeChat API that tests/server/test_wechat.py runs on this port.
WECHAT_API_PORT = int(os.environ.get("ANXIN_TEST_WECHAT_API_PORT", "5177"))
WECHAT_ENV = {
    "WECHAT_TOKEN": "test-token",
    "WECHAT_APPID": "wx-test-appid",
    "WECHAT_APPSECRET": "test-secret",
    "WECHAT_AES_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",  # 43 characters, like WeChat's
    "WECHAT_API_BASE": f"http://127.0.0.1:{WECHAT_API_PORT}",
    "WECHAT_CUSTOMER_API": "1",
    "WECHAT_PASSIVE_TIMEOUT": "4.5",
    "WECHAT_REDIS_URL": "",
}


class Bot:
    def __init__(self, base: str) -> None:
        self.base = base
        self.sender = f"t-{uuid.uuid4().hex[:10]}"

    def post(self, message, sender=None):
        return requests.post(
            f"{self.base}/webhooks/rest/webhook",
            json={"sender": sender or self.sender, "message": message},
            timeout=30,
        )

    def say(self, message, sender=None) -> str:
        """Send a message; return the bot's replies (text and buttons) joined."""
        response = self.post(message, sender)
        assert response.status_code == 200, response.text
        parts = []
        for reply in response.json():
            parts.append(reply.get("text", ""))
            for button in reply.get("buttons", []) or []:
                parts.append(f"[{button['title']}]")
        return "\n".join(parts)

    def new_user(self) -> Bot:
        return Bot(self.base)


def pytest_collection_modifyitems(items):
    # test_lifecycle stops the shared servers, so it runs after every other module.
    items.sort(key=lambda item: item.path.name == "test_lifecycle.py")


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("servers")
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: http://localhost:{ACTIONS_PORT}/webhook\n"
        "  headers:\n    X-Anxin-Action-Secret: ${ANXIN_ACTION_SECRET}\n"  # actions/server.py
        f"tracker_store:\n  type: privacy.tracker_store.ErasableSQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {tmp / 'tracker.db'}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        **WECHAT_ENV,
        "RASA_PORT": str(RASA_PORT),
        "ACTIONS_PORT": str(ACTIONS_PORT),
        "WEB_PORT": str(WEB_PORT),
        "ANXIN_ENDPOINTS": str(endpoints),
        "ANXIN_INCIDENT_DB_URL": f"sqlite:///{tmp / 'incidents.db'}",
        # A scripted user types faster than a person: a bigger burst, the same steady rate.
        "ANXIN_RATE_BURST": os.environ.get("ANXIN_TEST_RATE_BURST", "60"),
    }
    ready = [f"http://localhost:{ACTIONS_PORT}/health", f"http://localhost:{RASA_PORT}/"]
    with running(env, tmp / "run.log", ready) as process:
        yield {
            "process": process,
            "log": tmp / "run.log",
            "base": f"http://localhost:{RASA_PORT}",
            "env": env,  # to start the same servers again (test_lifecycle)
            "ready": ready,
        }


@pytest.fixture
def bot(servers) -> Bot:
    return Bot(servers["base"])


# --- WeChat: the simulator and the fake WeChat API (test_wechat*.py) ------------------------------


def sim(base: str, safe: bool = False) -> WeChatSim:
    """WeChat's side of the webhook; ``safe``: encrypted (安全模式) messages."""
    return WeChatSim(
        f"{base}/webhooks/wechat/webhook",
        WECHAT_ENV["WECHAT_TOKEN"],
        WECHAT_ENV["WECHAT_APPID"],
        WECHAT_ENV["WECHAT_AES_KEY"] if safe else "",
    )


@pytest.fixture(scope="module")
def fake_api():
    with FakeWeChatAPI(WECHAT_API_PORT, WECHAT_ENV["WECHAT_APPID"], WECHAT_ENV["WECHAT_APPSECRET"]) as fake:
        yield fake


@pytest.fixture
def api(fake_api):
    fake_api.reset()
    return fake_api


@pytest.fixture
def wechat(servers, api) -> WeChatSim:
    return sim(servers["base"])
