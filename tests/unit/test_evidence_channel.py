"""channels/evidence.py in a small Sanic app on a free port (sanic-testing is not in the
lock), with a fake ``on_new_message``: uploads checked, stored and handed to the bot;
refusals with a clear JSON error; downloads and the chart only through a valid signed link."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import socket
import threading
import time
import uuid
import zipfile

import pytest
import requests
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels import guard
from channels.evidence import EvidenceInput
from evidence import files, intake, links, samples
from evidence import store as evidence_module
from incidents import store as store_module

SENDER = "web-user-1"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv(store_module.ENV_URL, f"sqlite:///{tmp_path}/incidents.db")
    monkeypatch.setenv(evidence_module.ENV_DIR, str(tmp_path / "evidence"))
    monkeypatch.setenv(links.ENV_SECRET, "t" * 32)
    monkeypatch.setenv("ANXIN_CORS_ORIGIN", "http://localhost:8080")
    monkeypatch.setenv("ANXIN_RATE_BURST", "100")
    monkeypatch.delenv("ANXIN_STATE_DB", raising=False)
    monkeypatch.setattr(guard, "_limiter", None)
    store_module.reset_store()
    evidence_module.reset_store()
    yield
    store_module.reset_store()
    evidence_module.reset_store()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The app on its own event loop in a thread (Sanic 21.12 rewrites its own methods at
    start-up, so one app per module; its connections outlive a test's event loop)."""

    def __init__(self) -> None:
        self.received: list[UserMessage] = []
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        assert ready.wait(30)
        self.url = f"http://127.0.0.1:{self.port}"

    async def on_new_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "bot saw the file")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = Sanic(f"evidence_test_{uuid.uuid4().hex}")
        app.config.REQUEST_MAX_SIZE = 1024 * 1024  # as scripts/run.sh sets it without an API token
        app.blueprint(EvidenceInput().blueprint(self.on_new_message), url_prefix="/webhooks/evidence")

        async def start() -> None:
            srv = await app.create_server(
                host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
            )
            await srv.startup()
            await srv.start_serving()
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def post(self, data: bytes, name: str, mime: str, sender: str = SENDER, headers=None, **fields):
        return requests.post(
            f"{self.url}/webhooks/evidence/upload",
            data={"sender": sender, **fields},
            files={"file": (name, data, mime)},
            headers=headers or {},
            timeout=60,
        )

    def get(self, path: str):
        return requests.get(f"{self.url}{path}", timeout=60)


@pytest.fixture(scope="module")
def server_once():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANXIN_CORS_ORIGIN", "http://localhost:8080")
        yield Server()


@pytest.fixture
def server(server_once):
    server_once.received.clear()
    return server_once


def test_a_screenshot_is_stored_read_and_handed_to_the_bot(server, screenshot):
    resp = server.post(screenshot, "IMG_1.png", "image/png")
    assert resp.status_code == 200
    body = resp.json()
    assert body["messages"] == [{"recipient_id": SENDER, "text": "bot saw the file"}]
    record = evidence_module.get_store().get(SENDER, body["file"]["id"])
    assert record is not None and record.sha256 == body["file"]["sha256"] and record.channel == "web"
    assert body["file"]["size"] == len(screenshot) and body["file"]["type"] == "png"
    assert body["file"]["received_at_beijing"].endswith("+08:00")
    [message] = server.received
    assert message.text == "/evidence_received" and message.sender_id == SENDER
    evidence = message.metadata["evidence"]
    assert evidence["file_id"] == record.id and evidence["kind"] == "image"
    assert len(evidence["proposed"]) == 5  # the sample's six rows, less the outgoing call
    json.dumps(evidence)  # plain JSON: it travels in a slot
    assert "记为 5 条来电记录？" in evidence["summary"]


@pytest.mark.parametrize(
    "data,name,mime,status",
    [
        (b"%PDF-1.4\n" + b"0" * 2000, "scan.jpg", "image/jpeg", 415),  # a PDF renamed .jpg
        (b"", "empty.png", "image/png", 400),
    ],
    ids=["pdf_renamed_jpg", "zero_bytes"],
)
def test_refused_files_get_a_clear_error_and_nothing_is_touched(server, data, name, mime, status):
    store = evidence_module.get_store()
    kept = store.add(SENDER, samples.blank_png(), files.check(samples.blank_png()), channel="web")
    resp = server.post(data, name, mime)
    assert resp.status_code == status
    assert "之前保存的证据都还在" in resp.json()["error"]
    assert [f.id for f in store.list(SENDER)] == [kept.id] and server.received == []


def raw_upload(port: int, headers: str, body: bytes) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /webhooks/evidence/upload HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: multipart/form-data; boundary=xxxxxxxx\r\n" + headers.encode() + b"\r\n" + body
        )
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 10:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def test_a_50_mb_body_is_refused_with_413_before_it_is_read(server):
    head, rest = raw_upload(server.port, f"Content-Length: {50 * 1024 * 1024}\r\n", b"\0" * 65536)
    assert head.startswith(b"HTTP/1.1 413")
    assert "20 MB" in rest.decode("utf-8", "replace")
    assert server.received == []


def test_a_50_mb_chunked_body_is_refused_too(server):
    chunk = b"\0" * (1024 * 1024)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(22))  # 22 MB sent, then cut
    head, _ = raw_upload(server.port, "Transfer-Encoding: chunked\r\n", body)
    assert head.startswith(b"HTTP/1.1 413")
    assert server.received == [] and evidence_module.get_store().list(SENDER) == []


def test_a_page_from_another_origin_is_refused(server, screenshot):
    resp = server.post(samples.blank_png(), "a.png", "image/png", headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403 and server.received == []


def test_files_and_the_pack_only_through_a_valid_link(server):
    data = samples.blank_png()
    store = evidence_module.get_store()
    record = store.add(SENDER, data, files.check(data), channel="web")
    owner = evidence_module.owner_key(SENDER)
    good = links.make_path_token(owner, record.id)
    resp = server.get(f"/webhooks/evidence/file/{good}")
    assert resp.status_code == 200 and resp.content == data
    assert resp.headers["Content-Type"] == "image/png"
    other = evidence_module.owner_key("someone-else")
    expired = links.make_path_token(owner, record.id, 60, now=0)
    for token, reason in [
        (f"{other}.{good.split('.', 1)[1]}", "不是给您的"),  # another user's owner key
        (good.replace(record.id, "A" * 16), "不是给您的"),  # a changed id
        (expired, "过期"),
    ]:
        resp = server.get(f"/webhooks/evidence/file/{token}")
        assert resp.status_code == 403 and reason in resp.json()["error"]
    pack = links.make_path_token(owner, "pack", sender_id=SENDER)
    resp = server.get(f"/webhooks/evidence/pack/{pack}")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert [f["sha256"] for f in manifest["files"]] == [record.sha256]
    someone = links.make_path_token(other, "pack", sender_id="someone-else")
    resp = server.get(f"/webhooks/evidence/pack/{someone.rsplit('.', 1)[0]}.{pack.rsplit('.', 1)[1]}")
    assert resp.status_code == 403  # another user's link with this user's sealed id
    assert server.get(f"/webhooks/evidence/pack/{good}").status_code == 403  # a file's link is not the pack's
    assert (
        server.get(
            f"/webhooks/evidence/pack/{links.make_path_token(owner, 'pack', 60, sender_id=SENDER, now=0)}"
        ).status_code
        == 403
    )


def test_many_uploads_at_once_are_capped_per_sender(server, screenshot, monkeypatch):
    monkeypatch.setattr(files, "MAX_FILES_AT_ONCE", 2)
    gate = threading.Event()
    real = intake.read_image

    async def slow(data, received_at):
        await asyncio.to_thread(gate.wait, 30)
        return await real(data, received_at)

    monkeypatch.setattr(intake, "read_image", slow)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(server.post, screenshot, "a.png", "image/png") for _ in range(4)]

        deadline = time.time() + 20
        while sum(f.done() for f in futures) < 2 and time.time() < deadline:
            time.sleep(0.05)
        gate.set()
        done = [f.result() for f in futures]
    assert sorted(r.status_code for r in done) == [200, 200, 429, 429]
    assert all("太多" in r.json()["error"] for r in done if r.status_code == 429)
    assert len(evidence_module.get_store().list(SENDER)) == 2


def test_the_chart_shows_only_its_owners_calls_through_a_valid_link(server, monkeypatch):
    from datetime import datetime, timedelta

    from actions.evidence import chart_link

    monkeypatch.delenv("ANXIN_PUBLIC_URL", raising=False)
    incidents = store_module.get_store()
    day = (datetime.now() - timedelta(days=1)).replace(hour=23, minute=10, second=0, microsecond=0)
    for n in range(3):
        incidents.add(SENDER, occurred_at=day - timedelta(hours=n), caller_number="13812345678", attempts=2)
    link = chart_link(SENDER)
    assert link.startswith("/webhooks/evidence/chart/") and SENDER not in link
    resp = server.get(link)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
    assert resp.content.startswith(b"\x89PNG") and "no-store" in resp.headers["Cache-Control"]
    # Another user's chart differs: it is drawn from that user's log, not this one's.
    other_chart = server.get(chart_link("someone-else"))
    assert other_chart.status_code == 200 and other_chart.content != resp.content

    token = link.rsplit("/", 1)[1]
    owner, subject, expires, signature, sealed = token.split(".")
    other = evidence_module.owner_key("someone-else")
    pack = links.make_path_token(owner, "pack", sender_id=SENDER)
    for forged, reason in [
        (f"{other}.{subject}.{expires}.{signature}.{sealed}", "不是给您的"),  # another owner
        (f"{owner}.{subject}.{int(expires) + 60}.{signature}.{sealed}", "不是给您的"),  # a longer life
        (f"{owner}.{subject}.{expires}.{signature}.{links.seal_sender('someone-else')}", "不是给您的"),
        (pack, "不是给您的"),  # the pack's link does not open the chart
        (links.make_path_token(owner, "chart", 60, sender_id=SENDER, now=0), "过期"),
    ]:
        resp = server.get(f"/webhooks/evidence/chart/{forged}")
        assert resp.status_code == 403 and reason in resp.json()["error"], forged
    assert server.get(f"/webhooks/evidence/pack/{token}").status_code == 403  # nor the chart's the pack
