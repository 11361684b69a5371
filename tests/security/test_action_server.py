"""The action server answers only the Rasa server: the shared secret header,
and it listens on loopback only."""

import os
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from tests.security.conftest import ACTION_SECRET, ACTIONS_PORT, ROOT

LIABILITY_BUTTON = '/faq{"faq_topic":"family_liability"}'
# With the secret, this call would answer with the family-liability facts (第465条).
CALL = {
    "next_action": "action_answer_faq",
    "sender_id": "intruder",
    "tracker": {
        "sender_id": "intruder",
        "slots": {},
        "latest_message": {"entities": [{"entity": "faq_topic", "value": "family_liability"}]},
        "events": [],
    },
}


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Anxin-Action-Secret": "guess"}, {"X-Anxin-Action-Secret": ACTION_SECRET[:-1]}],
    ids=["no secret", "wrong secret", "almost the secret"],
)
@pytest.mark.parametrize("method, path", [("POST", "/webhook"), ("GET", "/actions")])
def test_calls_without_the_secret_are_refused(servers, headers, method, path):
    response = requests.request(method, servers.actions + path, json=CALL, headers=headers, timeout=10)
    assert response.status_code == 403
    assert "第465条" not in response.text


def test_health_is_open_and_the_secret_opens_the_rest(servers):
    assert requests.get(f"{servers.actions}/health", timeout=10).status_code == 200
    listed = requests.get(
        f"{servers.actions}/actions", headers={"X-Anxin-Action-Secret": ACTION_SECRET}, timeout=10
    )
    assert listed.status_code == 200
    assert {"name": "action_answer_faq"} in listed.json()


def test_rasa_calls_the_action_server_with_the_secret(servers, sender):
    refused_before = servers.logs()["actions.log"].count("actions.refused")
    # The FAQ button runs a custom action: its answer proves Rasa's call got through.
    assert "第465条" in servers.say(LIABILITY_BUTTON, sender)
    assert servers.logs()["actions.log"].count("actions.refused") == refused_before


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of listening TCP sockets on ``port`` (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def test_action_server_listens_on_loopback_only(servers):
    assert _listening_addresses(ACTIONS_PORT) == {"0100007F"}  # 127.0.0.1
    # And from another address of this machine, if it has one, nobody answers.
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect(("192.0.2.1", 9))  # no packet is sent; picks the outward interface
        own = probe.getsockname()[0]
        probe.close()
    except OSError:
        own = None
    if own and not own.startswith("127."):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{own}:{ACTIONS_PORT}/health", timeout=5)


def test_run_sh_refuses_an_endpoints_file_that_does_not_send_the_secret(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("action_endpoint:\n  url: http://localhost:5455/webhook\n", encoding="utf-8")
    env = {**os.environ, "ANXIN_ENDPOINTS": str(endpoints), "ANXIN_LOG_DIR": str(tmp_path / "log")}
    run = subprocess.run(["bash", "scripts/run.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "does not send the action server its secret" in run.stderr
