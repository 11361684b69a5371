"""One pair of real servers (through scripts/run.sh, as `make run` starts them)
for the security tests, on ports of their own, with:

- RASA_API_TOKEN set (the API must then demand it);
- DEBUG logging, Sanic's access log included, into a log directory of their
  own (so the masking tests read only these servers' lines);
- a small rate limit (4 messages at once, then 6 a minute per sender);
- the WeChat channel in plain mode, without the customer-service API.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from scripts.wechat_sim import WeChatSim
from tests.run_sh import running

ROOT = Path(__file__).resolve().parents[2]
RASA_PORT = int(os.environ.get("ANXIN_TEST_SECURITY_RASA_PORT", "5405"))
ACTIONS_PORT = int(os.environ.get("ANXIN_TEST_SECURITY_ACTIONS_PORT", "5455"))
WEB_PORT = int(os.environ.get("ANXIN_TEST_SECURITY_WEB_PORT", str(RASA_PORT + 3000)))
WECHAT_API_PORT = int(os.environ.get("ANXIN_TEST_WECHAT_API_PORT", "5477"))
START_TIMEOUT = 300
API_TOKEN = "test-api-token-" + uuid.uuid4().hex
ACTION_SECRET = "test-action-secret-" + uuid.uuid4().hex
RATE_BURST = 4
WIDGET_ORIGIN = f"http://localhost:{WEB_PORT}"
WECHAT_TOKEN = "sec-test-token"
SERVER_ENV = {
    "RASA_PORT": str(RASA_PORT),
    "ACTIONS_PORT": str(ACTIONS_PORT),
    "WEB_PORT": str(WEB_PORT),
    "RASA_API_TOKEN": API_TOKEN,
    "ANXIN_ACTION_SECRET": ACTION_SECRET,
    "ANXIN_RATE_BURST": str(RATE_BURST),
    "ANXIN_RATE_PER_MINUTE": "6",
    "ANXIN_RATE_REDIS_URL": "",
    "LOG_LEVEL": "DEBUG",
    "LOG_LEVEL_LIBRARIES": "DEBUG",
    "WECHAT_TOKEN": WECHAT_TOKEN,
    "WECHAT_APPID": "wx-sec-test",
    "WECHAT_APPSECRET": "",
    "WECHAT_AES_KEY": "",
    "WECHAT_CUSTOMER_API": "0",
    "WECHAT_API_BASE": f"http://127.0.0.1:{WECHAT_API_PORT}",
    "WECHAT_REDIS_URL": "",
}


class Servers:
    def __init__(self, tmp: Path, process: subprocess.Popen) -> None:
        self.tmp = tmp
        self.process = process
        self.base = f"http://localhost:{RASA_PORT}"
        self.actions = f"http://127.0.0.1:{ACTIONS_PORT}"
        self.log_dir = tmp / "log"

    def post(self, message, sender: str, timeout: float = 30) -> requests.Response:
        return requests.post(
            f"{self.base}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=timeout
        )

    def say(self, message: str, sender: str) -> str:
        response = self.post(message, sender)
        assert response.status_code == 200, response.text
        return "\n".join(reply.get("text", "") for reply in response.json())

    def user_texts(self, sender: str) -> list[str]:
        """What the tracker store holds as the sender's messages (through the API, with the token)."""
        response = requests.get(
            f"{self.base}/conversations/{sender}/tracker", params={"token": API_TOKEN}, timeout=30
        )
        assert response.status_code == 200, response.text
        return [e.get("text") for e in response.json()["events"] if e.get("event") == "user"]

    def wechat(self, openid: str | None = None) -> WeChatSim:
        return WeChatSim(f"{self.base}/webhooks/wechat/webhook", WECHAT_TOKEN, "wx-sec-test", "", openid)

    def logs(self) -> dict[str, str]:
        return {
            path.name: path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.log_dir.glob("*.log"))
        }


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("security")
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: http://localhost:{ACTIONS_PORT}/webhook\n"
        "  headers:\n    X-Anxin-Action-Secret: ${ANXIN_ACTION_SECRET}\n"
        f"tracker_store:\n  type: privacy.tracker_store.ErasableSQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {tmp / 'tracker.db'}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        **SERVER_ENV,
        "ANXIN_ENDPOINTS": str(endpoints),
        "ANXIN_LOG_DIR": str(tmp / "log"),
        "ANXIN_INCIDENT_DB_URL": f"sqlite:///{tmp / 'incidents.db'}",
    }
    env.pop("ANXIN_CORS_ORIGIN", None)  # run.sh's default: the web page's origins
    ready = [f"http://localhost:{ACTIONS_PORT}/health", f"http://localhost:{RASA_PORT}/"]
    with running(env, tmp / "run.log", ready, START_TIMEOUT) as process:
        yield Servers(tmp, process)


@pytest.fixture
def sender() -> str:
    return f"sec-{uuid.uuid4().hex[:12]}"
