"""Screenshots sent to the WeChat Official Account, on the real servers (the shared ones
of tests/server/conftest.py), driven as WeChat's servers would: signed XML with
MsgType=image whose MediaId the fake WeChat API on loopback serves.

What the user notices: the bot answers (passively, or later by customer-service
message when OCR takes longer than WeChat's 5 s) with what it read off the
screenshot, and logs the calls when the user says yes; WeChat's retries store the
image once; a PDF gets a sentence that says what to send instead.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from evidence import samples
from evidence.store import owner_key
from scripts.wechat_sim import Result, WeChatSim, _xml
from tests.fake_wechat_api import FakeWeChatAPI
from tests.server.conftest import ROOT, sim

REPLY_TIMEOUT = 90  # seconds: the first image loads the OCR engine


def jpeg(image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def image_fields(media_id: str, msg_id: int) -> dict:
    return {
        "MsgType": "image",
        "PicUrl": "http://mmbiz.example/pic.jpg",
        "MediaId": media_id,
        "MsgId": msg_id,
    }


@pytest.fixture
def databases(servers) -> dict[str, Path]:
    folder = Path(servers["log"]).parent
    return {"tracker": folder / "tracker.db", "incidents": folder / "incidents.db"}


def reply(api: FakeWeChatAPI, wechat: WeChatSim, result: Result, until: str, pushed_before: int = 0) -> str:
    """All the user got for one message: the passive reply and what the customer-service
    API delivered after it, once ``until`` shows up (or at the timeout)."""
    deadline = time.monotonic() + REPLY_TIMEOUT
    while True:
        pushed = api.messages_to(wechat.openid)[pushed_before:]
        whole = "\n".join([result.content or "", *pushed]).strip()
        if until in whole or time.monotonic() > deadline:
            return whole
        time.sleep(0.2)


def stored_files(db: Path, openid: str) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute(
                "SELECT channel, kind, incident_ids FROM evidence_files WHERE owner = ?", (owner_key(openid),)
            ).fetchall()
        except sqlite3.OperationalError:  # no file stored yet on these servers
            return []
    return [dict(row) for row in rows]


def logged_calls(db: Path, openid: str) -> list[tuple[str, int, str]]:
    from incidents.store import IncidentStore

    store = IncidentStore(f"sqlite:///{db}")
    try:
        return [
            (i.occurred_at.strftime("%H:%M"), i.attempts, i.caller_number or "") for i in store.list(openid)
        ]
    finally:
        store.dispose()


def test_a_call_log_screenshot_is_read_back_and_logged_when_the_user_says_yes(wechat, api, databases):
    api.add_media("media-call-log", jpeg(samples.sample_call_log()))
    result = wechat.send(image_fields("media-call-log", wechat.next_msg_id()))
    assert result.status == 200
    answer = reply(api, wechat, result, until="记为")
    # Saved, what was read off the screen (times and numbers), and the question.
    assert "收到了" in answer and "原样保存" in answer, answer
    for shown in ("07:12", "09:30", "22:41", "23:10", "13812345678", "17123456789", "（3 次）"):
        assert shown in answer, (shown, answer)
    assert "记为 5 条来电记录？" in answer and "回复数字选择" in answer
    [stored] = stored_files(databases["incidents"], wechat.openid)
    assert stored["channel"] == "wechat" and stored["kind"] == "image"

    pushed = len(api.messages_to(wechat.openid))
    confirmed = reply(api, wechat, wechat.text("1"), until="记下了", pushed_before=pushed)  # 1 = 记下
    assert "记下了 5 条" in confirmed, confirmed
    calls = sorted(logged_calls(databases["incidents"], wechat.openid))
    assert [(clock, attempts) for clock, attempts, _ in calls] == [
        ("07:12", 1),
        ("09:30", 1),
        ("13:05", 1),
        ("22:41", 3),
        ("23:10", 1),
    ], calls
    assert calls[3][2] == "17123456789" and calls[4][2] == "13812345678"
    [stored] = stored_files(databases["incidents"], wechat.openid)
    assert len(json.loads(stored["incident_ids"])) == 5  # each entry names the screenshot
    log = (ROOT / "var" / "log" / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "evidence.stored" in log and wechat.openid not in log and "media-call-log" not in log


def test_a_retried_image_is_stored_once_and_answered_once(servers, wechat, api, databases):
    api.add_media("media-retried", jpeg(samples.sample_sms()))
    msg_id = wechat.next_msg_id()
    xml = _xml(
        {
            "ToUserName": wechat.account,
            "FromUserName": wechat.openid,
            "CreateTime": int(time.time()),
            **image_fields("media-retried", msg_id),
        }
    )
    answers: list[requests.Response] = []

    def deliver() -> None:  # each of WeChat's retries on a connection of its own
        answers.append(sim(servers["base"]).post(xml, timeout=10))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    passive = [wechat.read_reply(a.text)[0] for a in answers if a.status_code == 200]
    passive = [content for content in passive if content]
    if not passive:  # the reading took longer than WeChat waits: the push brings it
        api.wait_for(wechat.openid, 1, timeout=REPLY_TIMEOUT)
    time.sleep(2)  # time for a second (wrong) delivery to show up
    delivered = set(passive) | set(api.messages_to(wechat.openid))
    assert len([text for text in delivered if text.startswith("收到了")]) == 1, delivered
    assert not (passive and api.messages_to(wechat.openid)), "answered and pushed"
    assert len(stored_files(databases["incidents"], wechat.openid)) == 1
    assert api.downloads_of("media-retried") == 1
    with sqlite3.connect(databases["tracker"]) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (wechat.openid,)
        ).fetchall()
    assert [json.loads(data).get("message_id") for (data,) in rows].count(str(msg_id)) == 1


def test_a_pdf_or_a_lost_image_gets_a_clear_sentence_and_nothing_is_stored(wechat, api, databases):
    api.add_media("media-pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 4000, "application/pdf")
    answer = wechat.send(image_fields("media-pdf", wechat.next_msg_id())).content or ""
    assert "PDF" in answer and "截图" in answer and "之前保存的证据都还在" in answer, answer
    lost = wechat.send(image_fields("media-nobody-has", wechat.next_msg_id())).content or ""
    assert "没能从微信取下来" in lost and "再发一次" in lost, lost
    assert stored_files(databases["incidents"], wechat.openid) == []


def _model_has(response: str) -> bool:
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    model = (ROOT / "models" / "current").read_text(encoding="utf-8").strip()
    path = Path(model) if Path(model).is_absolute() else ROOT / model
    if not path.exists():
        path = ROOT / "models" / model
    return response in LocalModelStorage.metadata_from_archive(path).domain.responses


def test_in_wechat_the_pack_comes_from_the_web_chat(servers, wechat, api, databases):
    if os.environ.get("ANXIN_PUBLIC_URL"):
        pytest.skip("ANXIN_PUBLIC_URL is set: WeChat gets the link itself")
    if not _model_has("utter_evidence_pack_from_web"):
        pytest.skip(
            "the model predates utter_evidence_pack_from_web (domain/evidence.yml): retrain to run this"
        )
    from evidence import files
    from evidence.store import EvidenceStore

    store = EvidenceStore(f"sqlite:///{databases['incidents']}", directory=ROOT / "var" / "evidence")
    data = jpeg(samples.sample_sms())
    store.add(wechat.openid, data, files.check(data), channel="wechat")
    store.dispose()
    result = wechat.text("导出证据包")
    answer = reply(api, wechat, result, until="网页版")
    assert "网页版" in answer and "导出证据包" in answer and "1 个文件" in answer, answer
    assert "/webhooks/evidence/" not in answer  # no link that opens nothing
