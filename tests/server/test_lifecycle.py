"""The HTTP API stays closed without a token, and Ctrl-C stops both servers.

Named to run last: it stops the servers the other tests share.
"""

import signal

import requests

from tests.server.conftest import ACTIONS_PORT, RASA_PORT


def test_conversation_api_is_not_open(servers):
    response = requests.get(f"{servers['base']}/conversations/someone/tracker", timeout=10)
    assert response.status_code in (401, 403, 404)


def test_ctrl_c_stops_both_servers(servers):
    process = servers["process"]
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    for port in (RASA_PORT, ACTIONS_PORT):
        try:
            requests.get(f"http://localhost:{port}/", timeout=2)
            raise AssertionError(f"port {port} still answers after Ctrl-C")
        except requests.ConnectionError:
            pass
