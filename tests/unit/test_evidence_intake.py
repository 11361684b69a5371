"""evidence/intake.py, the one way in shared by the web upload and WeChat: a screenshot is
checked, stored unchanged under its sender and read; a refused file or a failing store
leaves what was stored before as it was; the logs name no one and quote nothing."""

from __future__ import annotations

import io
import json
import logging
import wave

import pytest

from evidence import files, intake, samples

SENDER = "o-wechat-openid-0001"
WHO = "hash-of-sender"


@pytest.fixture(autouse=True)
def stores(evidence_stores):
    return evidence_stores[1]


def recording() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(8000), wav.writeframes(b"\0\0" * 8000)
    return buffer.getvalue()


async def test_a_screenshot_is_stored_unchanged_and_what_it_shows_is_proposed(stores, screenshot, caplog):
    caplog.set_level(logging.INFO)
    taken = await intake.take_in(
        screenshot, SENDER, channel="wechat", who=WHO, filename="IMG_0042.png", mime="image/jpeg"
    )
    record = stores.get(SENDER, taken.record.id)
    assert record is not None and record.channel == "wechat" and record.kind == "image"
    assert record.file_type == "png"  # what the bytes are, not what the sender said
    assert stores.read(record) == screenshot
    evidence = taken.evidence
    assert evidence["file_id"] == record.id and evidence["kind"] == "image"
    # The sample's six calls, less the one the user made: the times and numbers on the screen.
    assert len(evidence["proposed"]) == 5
    assert [e["time_text"][-5:] for e in evidence["proposed"]] == [
        "07:12",
        "09:30",
        "13:05",
        "22:41",
        "23:10",
    ]
    assert (
        evidence["proposed"][3]["caller_number"] == "17123456789" and evidence["proposed"][3]["attempts"] == 3
    )
    assert "22:41" in evidence["summary"] and "记为 5 条来电记录？" in evidence["summary"]
    json.dumps(evidence)  # it travels in a message's metadata and then in a slot
    # Logs: what happened, never who (in the clear), the name, or what was read.
    assert "evidence.stored" in caplog.text and WHO in caplog.text
    for secret in (SENDER, "IMG_0042", "22:41", "17123456789", "171 2345"):
        assert secret not in caplog.text


async def test_a_screenshot_ocr_cannot_read_is_kept_with_nothing_proposed(stores, screenshot, monkeypatch):
    async def broken(data, received):
        raise RuntimeError("onnxruntime fell over")

    monkeypatch.setattr(intake, "read_image", broken)
    taken = await intake.take_in(screenshot, SENDER, channel="web", who=WHO)
    assert taken.evidence["proposed"] == [] and taken.evidence["summary"] == ""
    assert stores.read(stores.get(SENDER, taken.record.id)) == screenshot


async def test_a_recording_is_not_read_and_keeps_its_description(stores, monkeypatch):
    async def must_not_run(data, received):
        raise AssertionError("OCR on a recording")

    monkeypatch.setattr(intake, "read_image", must_not_run)
    taken = await intake.take_in(recording(), SENDER, channel="web", who=WHO, description="催收说要上门")
    assert taken.record.kind == "audio" and taken.evidence["description"] == "催收说要上门"
    assert taken.evidence["proposed"] == []


@pytest.mark.parametrize(
    "data,mime,reason,words",
    [
        (b"%PDF-1.4\n" + b"0" * 2000, "image/jpeg", "pdf", "PDF"),
        (b"", "image/jpeg", "empty", "空的"),
        (b"GIF89a" + b"\0" * 100, "image/gif", "not_allowed", "收不了"),
    ],
    ids=["pdf", "empty", "gif"],
)
async def test_a_refused_file_says_why_and_nothing_stored_is_touched(stores, data, mime, reason, words):
    kept = stores.add(SENDER, samples.blank_png(), files.check(samples.blank_png()), channel="wechat")
    with pytest.raises(files.Refused) as refused:
        await intake.take_in(data, SENDER, channel="wechat", who=WHO, mime=mime)
    assert refused.value.reason == reason
    assert words in refused.value.message and "之前保存的证据都还在" in refused.value.message
    assert [f.id for f in stores.list(SENDER)] == [kept.id]
    assert stores.read(stores.get(SENDER, kept.id)) == samples.blank_png()


async def test_a_store_that_fails_raises_not_stored_and_keeps_the_rest(stores, monkeypatch, caplog):
    kept = stores.add(SENDER, samples.blank_png(), files.check(samples.blank_png()), channel="wechat")

    def failing_add(*args, **kwargs):
        raise OSError(f"disk full while writing for {SENDER}")

    monkeypatch.setattr(stores, "add", failing_add)
    with pytest.raises(intake.NotStored):
        await intake.take_in(samples.blank_png(), SENDER, channel="wechat", who=WHO, store=stores)
    assert [f.id for f in stores.list(SENDER)] == [kept.id]
    assert "evidence.store.failed" in caplog.text and SENDER not in caplog.text


def test_the_bot_gets_evidence_received_with_the_file_in_its_metadata():
    from rasa.core.channels.channel import CollectingOutputChannel

    output = CollectingOutputChannel()
    evidence = {"file_id": "abcdefgh12345678", "kind": "image", "proposed": [], "summary": ""}
    message = intake.evidence_message(SENDER, evidence, output, "wechat", "10001")
    assert message.text == "/evidence_received" and message.sender_id == SENDER
    assert message.input_channel == "wechat" and message.message_id == "10001"
    assert message.metadata == {"evidence": evidence} and message.output_channel is output
