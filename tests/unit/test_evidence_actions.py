"""The evidence locker's actions on trackers built here (no trained model, no server):
a file came in → what was read and a question; yes → entries logged and linked; no →
nothing logged; the pack link is its owner's only; erasure removes the files."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rasa_sdk.events import SlotSet

from actions.evidence import (
    ActionAskEvidenceConfirmed,
    ActionConfirmEvidence,
    ActionEvidencePack,
    ActionReceiveEvidence,
    ValidateEvidenceForm,
)
from actions.privacy import ActionEraseMyData
from evidence import files, links, samples
from evidence import store as evidence_module
from tests.unit.conftest import make_tracker, project_domain, said, texts

USER = "test-user"  # make_tracker's sender id


@pytest.fixture(autouse=True)
def stores(evidence_stores, monkeypatch):
    monkeypatch.setenv(links.ENV_SECRET, "s" * 32)
    monkeypatch.delenv("ANXIN_PUBLIC_URL", raising=False)
    return evidence_stores


def add_file(user: str = USER, data: bytes | None = None):
    data = data or samples.blank_png(40, 80)
    return evidence_module.get_store().add(user, data, files.check(data), channel="web")


def proposed(day: datetime) -> list[dict]:
    rows = [("13812345678", "07:12", 1), ("17123456789", "22:41", 3), ("13812345678", "23:10", 1)]
    entries = []
    for number, clock, count in rows:
        hour, minute = map(int, clock.split(":"))
        entries.append(
            {
                "occurred_at": day.replace(hour=hour, minute=minute).isoformat(),
                "time_text": f"{day.month}月{day.day}日 {clock}",
                "time_precision": "minute",
                "caller_number": number,
                "description": "通话记录截图：未接",
                "behaviours": [],
                "evidence": ["call_log"],
                "attempts": count,
            }
        )
    return entries


def received(record, entries, summary="我从截图里读到：…\n记为 3 条来电记录？", **extra):
    event = {
        "event": "user",
        "text": "/evidence_received",
        "parse_data": {
            "text": "/evidence_received",
            "intent": {"name": "evidence_received", "confidence": 1.0},
            "entities": [],
        },
        "metadata": {
            "evidence": {
                "file_id": record.id,
                "kind": record.kind,
                "proposed": entries,
                "summary": summary,
                **extra,
            }
        },
    }
    tracker = make_tracker("/evidence_received", "evidence_received")
    tracker.events[-1] = event
    return tracker


def slot_values(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


DAY = (datetime.now() - timedelta(days=2)).replace(second=0, microsecond=0)


async def test_a_received_image_is_kept_pending_and_the_form_asks(dispatcher):
    record = add_file()
    entries = proposed(DAY)
    events = await ActionReceiveEvidence().run(dispatcher, received(record, entries), project_domain())
    pending = slot_values(events)["evidence_pending"]
    assert pending["file_id"] == record.id and pending["proposed"] == entries
    assert "收到了" in said(dispatcher) and record.sha256[:12] in said(dispatcher)
    tracker = make_tracker("", "evidence_received", slots={"evidence_pending": pending})
    assert await ValidateEvidenceForm().required_slots([], dispatcher, tracker, {}) == ["evidence_confirmed"]
    dispatcher.messages.clear()
    await ActionAskEvidenceConfirmed().run(dispatcher, tracker, project_domain())
    [question] = dispatcher.messages
    assert question["response"] == "utter_ask_evidence_confirmed"
    assert "记为 3 条来电记录？" in said(dispatcher)
    assert [
        b["title"] for b in project_domain()["responses"]["utter_ask_evidence_confirmed"][0]["buttons"]
    ] == ["记下", "不用记"]


async def test_a_second_screenshot_before_the_answer_is_taken_and_the_first_is_said_unlogged(dispatcher):
    first, second = add_file(), add_file()
    waiting = {"file_id": first.id, "kind": "image", "proposed": proposed(DAY), "summary": "…"}
    tracker = received(second, proposed(DAY)[:1])
    tracker.slots["evidence_pending"] = waiting
    tracker.slots["requested_slot"] = "evidence_confirmed"
    # The form steps aside for the new file, so the rule for a new file runs...
    assert await ValidateEvidenceForm().run(dispatcher, tracker, project_domain()) == []
    # ...which says the first one's 3 entries were not logged and proposes the second's.
    events = await ActionReceiveEvidence().run(dispatcher, tracker, project_domain())
    assert dispatcher.messages[0]["response"] == "utter_evidence_previous_not_logged"
    assert dispatcher.messages[0]["count"] == 3
    assert slot_values(events)["evidence_pending"]["file_id"] == second.id


async def test_another_users_file_id_is_not_received(dispatcher):
    record = add_file("someone-else")
    events = await ActionReceiveEvidence().run(dispatcher, received(record, proposed(DAY)), project_domain())
    assert slot_values(events)["evidence_pending"] is None
    assert texts(dispatcher) == "utter_evidence_not_found\n" + said(dispatcher)


@pytest.mark.parametrize(
    "answer,intent,expected",
    [("记下", "log_incident", True), ("不用记", "deny", False), ("好的", "affirm", True)],
)
async def test_the_buttons_are_read_as_yes_and_no(dispatcher, answer, intent, expected):
    tracker = make_tracker(answer, intent, slots={"requested_slot": "evidence_confirmed"})
    assert await ValidateEvidenceForm().extract_evidence_confirmed(dispatcher, tracker, {}) == {
        "evidence_confirmed": expected
    }


async def test_yes_logs_one_incident_per_entry_linked_to_the_file(dispatcher, stores):
    incidents, evidence = stores
    record = add_file()
    pending = {"file_id": record.id, "kind": "image", "proposed": proposed(DAY), "summary": "…"}
    tracker = make_tracker("记下", "affirm", slots={"evidence_pending": pending, "evidence_confirmed": True})
    events = await ActionConfirmEvidence().run(dispatcher, tracker, project_domain())
    logged = incidents.list(USER)
    assert len(logged) == 3
    assert [i.attempts for i in logged] == [1, 3, 1] and logged[1].caller_number == "17123456789"
    assert evidence.get(USER, record.id).incident_ids == tuple(i.id for i in logged)
    text = said(dispatcher)
    assert "记下了 3 条" in text and "22:41" in text and "（3 次）" in text
    assert "17123456789" not in text  # read back masked
    assert slot_values(events) == {
        "evidence_pending": None,
        "evidence_confirmed": None,
        "evidence_description": None,
    }


async def test_entries_without_a_day_are_not_invented(dispatcher, stores):
    incidents, _ = stores
    record = add_file()
    entries = proposed(DAY)
    entries[0]["occurred_at"] = None
    pending = {"file_id": record.id, "kind": "image", "proposed": entries, "summary": "…"}
    tracker = make_tracker("记下", "affirm", slots={"evidence_pending": pending, "evidence_confirmed": True})
    await ActionConfirmEvidence().run(dispatcher, tracker, project_domain())
    assert len(incidents.list(USER)) == 2
    assert "另有 1 条没有读到日期" in said(dispatcher)


async def test_the_day_asked_for_undated_rows_dates_them_and_logs(dispatcher, stores):
    incidents, _ = stores
    record = add_file()
    entries = proposed(DAY)
    entries[1].update(occurred_at=None, clock="22:41")  # the screenshot showed no date for it
    pending = {"file_id": record.id, "kind": "image", "proposed": entries, "summary": "…"}
    day = DAY - timedelta(days=3)
    answer = make_tracker(f"是{day.month}月{day.day}号的", "inform", slots={"evidence_pending": pending})
    answer.slots["requested_slot"] = "evidence_confirmed"
    found = await ValidateEvidenceForm().extract_evidence_confirmed(dispatcher, answer, {})
    assert found["evidence_confirmed"] is True
    dated = found["evidence_pending"]["proposed"][1]
    assert dated["occurred_at"].startswith(f"{day:%Y-%m-%d}T22:41")
    tracker = make_tracker("", "inform", slots={"evidence_pending": found["evidence_pending"], "evidence_confirmed": True})
    await ActionConfirmEvidence().run(dispatcher, tracker, project_domain())
    assert len(incidents.list(USER)) == 3 and "没有读到日期" not in said(dispatcher)


async def test_no_logs_nothing_and_keeps_the_file(dispatcher, stores):
    incidents, evidence = stores
    record = add_file()
    pending = {"file_id": record.id, "kind": "image", "proposed": proposed(DAY), "summary": "…"}
    tracker = make_tracker("不用记", "deny", slots={"evidence_pending": pending, "evidence_confirmed": False})
    events = await ActionConfirmEvidence().run(dispatcher, tracker, project_domain())
    assert incidents.list(USER) == []
    assert evidence.get(USER, record.id) is not None and evidence.get(USER, record.id).incident_ids == ()
    assert "什么都没记" in said(dispatcher)
    assert SlotSet("evidence_pending", None) in events


async def test_audio_takes_the_uploads_description_or_asks_for_one(dispatcher, stores):
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(8000), wav.writeframes(b"\0\0" * 8000)
    record = add_file(data=buffer.getvalue())
    _, evidence = stores
    events = await ActionReceiveEvidence().run(dispatcher, received(record, [], summary=""), project_domain())
    pending = slot_values(events)["evidence_pending"]
    assert pending == {"file_id": record.id, "kind": "audio"}
    tracker = make_tracker("", "evidence_received", slots={"evidence_pending": pending})
    assert await ValidateEvidenceForm().required_slots([], dispatcher, tracker, {}) == [
        "evidence_description"
    ]
    answer = make_tracker(
        "11月20日催收员说要去我单位",
        "inform",
        slots={"evidence_pending": pending, "requested_slot": "evidence_description"},
    )
    value = await ValidateEvidenceForm().extract_evidence_description(dispatcher, answer, {})
    tracker = make_tracker("", "inform", slots={"evidence_pending": pending, **value})
    await ActionConfirmEvidence().run(dispatcher, tracker, project_domain())
    assert evidence.get(USER, record.id).description == "11月20日催收员说要去我单位"
    dispatcher.messages.clear()
    events = await ActionReceiveEvidence().run(
        dispatcher, received(record, [], summary="", description="催收说要上门"), project_domain()
    )
    assert slot_values(events)["evidence_pending"] is None
    assert evidence.get(USER, record.id).description == "催收说要上门"


async def test_the_pack_link_is_valid_for_its_owner_only(dispatcher, stores, monkeypatch):
    await ActionEvidencePack().run(
        dispatcher, make_tracker("导出证据包", "request_evidence_pack"), project_domain()
    )
    assert [m.get("response") for m in dispatcher.messages] == ["utter_evidence_pack_empty"]
    add_file()
    dispatcher.messages.clear()
    monkeypatch.setenv("ANXIN_PUBLIC_URL", "https://anxin.example.org/")
    await ActionEvidencePack().run(
        dispatcher, make_tracker("导出证据包", "request_evidence_pack"), project_domain()
    )
    link = next(m["custom"]["url"] for m in dispatcher.messages if m.get("custom"))
    assert link in said(dispatcher)
    prefix = "https://anxin.example.org/webhooks/evidence/pack/"
    assert link.startswith(prefix) and USER not in link
    token = link[len(prefix) :]
    grant, sender = links.verify_path_token(token, "pack")
    assert sender == USER and grant.owner == evidence_module.owner_key(USER)
    owner, subject, expires, signature, sealed = token.split(".")
    other = evidence_module.owner_key("someone-else")
    for forged in (
        f"{other}.{subject}.{expires}.{signature}.{sealed}",  # another owner
        f"{owner}.{subject}.{int(expires) + 1}.{signature}.{sealed}",  # a longer life
        f"{owner}.{subject}.{expires}.{signature}.{links.seal_sender('someone-else')}",
    ):
        with pytest.raises(links.LinkRefused):
            links.verify_path_token(forged, "pack")
    with pytest.raises(links.LinkRefused) as refused:
        links.verify_path_token(token, "pack", now=int(expires) + 1)
    assert refused.value.reason == "expired"


async def test_erasure_removes_the_files_too(dispatcher, stores):
    _, evidence = stores
    record = add_file()
    add_file("someone-else")
    folder = evidence._owner_dir(record.owner)
    assert folder.exists()
    tracker = make_tracker("确定全部删除", "affirm", slots={"erase_confirmed": True})
    await ActionEraseMyData().run(dispatcher, tracker, project_domain())
    assert evidence.list(USER) == [] and not folder.exists()
    assert len(evidence.list("someone-else")) == 1
    assert "证据文件也已删除：1 个" in said(dispatcher)


def from_channel(tracker, channel: str):
    """The tracker as Rasa builds it for a message that came through ``channel``."""
    tracker.events[-1]["input_channel"] = channel
    return tracker


async def test_in_wechat_without_a_public_address_the_pack_comes_from_the_web_chat(dispatcher, monkeypatch):
    add_file()
    add_file()
    tracker = from_channel(make_tracker("导出证据包", "request_evidence_pack"), "wechat")
    await ActionEvidencePack().run(dispatcher, tracker, project_domain())
    text = said(dispatcher)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_evidence_pack_from_web"]
    assert "网页版" in text and "导出证据包" in text and "2 个文件" in text
    # No link that would open nothing in WeChat, and no download button.
    assert "/webhooks/evidence/" not in text and not any(m.get("custom") for m in dispatcher.messages)

    # A number picked from WeChat's list is replayed without a channel: still WeChat.
    dispatcher.messages.clear()
    replayed = from_channel(make_tracker("导出证据包", "request_evidence_pack"), "wechat")
    replayed.events.append({**replayed.events[-1], "input_channel": None})
    await ActionEvidencePack().run(dispatcher, replayed, project_domain())
    assert [m.get("response") for m in dispatcher.messages] == ["utter_evidence_pack_from_web"]

    # With a public address the link works from WeChat too.
    dispatcher.messages.clear()
    monkeypatch.setenv("ANXIN_PUBLIC_URL", "https://anxin.example.org")
    await ActionEvidencePack().run(dispatcher, tracker, project_domain())
    assert "https://anxin.example.org/webhooks/evidence/pack/" in said(dispatcher)


async def test_the_web_chat_keeps_its_pack_link_without_a_public_address(dispatcher):
    add_file()
    tracker = from_channel(make_tracker("导出证据包", "request_evidence_pack"), "rest")
    await ActionEvidencePack().run(dispatcher, tracker, project_domain())
    link = next(m["custom"]["url"] for m in dispatcher.messages if m.get("custom"))
    assert link.startswith("/webhooks/evidence/pack/") and link in said(dispatcher)


def charts(dispatcher) -> list[dict]:
    return [m["custom"] for m in dispatcher.messages if (m.get("custom") or {}).get("type") == "chart"]


async def test_the_log_in_the_web_chat_comes_with_a_chart_link_for_its_owner(dispatcher, stores, monkeypatch):
    from actions.incidents import ActionShowLog

    incidents, _ = stores
    for hours in range(3):
        incidents.add(USER, occurred_at=DAY - timedelta(hours=hours), caller_number="13812345678")
    await ActionShowLog().run(dispatcher, from_channel(make_tracker("看看记录", "show_log"), "rest"), project_domain())
    [chart] = charts(dispatcher)
    assert chart["alt"] == "来电规律图"
    assert chart["url"].startswith("/webhooks/evidence/chart/") and USER not in chart["url"]
    grant, sender = links.verify_path_token(chart["url"].rsplit("/", 1)[1], "chart")
    assert sender == USER and grant.owner == evidence_module.owner_key(USER)
    # The log is still read first and the closing words still come last.
    assert "一共记了 3 条" in said(dispatcher) and dispatcher.messages[-1]["response"] == "utter_after_log"

    dispatcher.messages.clear()
    monkeypatch.setenv("ANXIN_PUBLIC_URL", "https://anxin.example.org/")
    await ActionShowLog().run(dispatcher, from_channel(make_tracker("看看记录", "show_log"), "rest"), project_domain())
    assert charts(dispatcher)[0]["url"].startswith("https://anxin.example.org/webhooks/evidence/chart/")


async def test_no_chart_in_wechat_or_for_an_empty_log(dispatcher, stores):
    from actions.incidents import ActionShowLog

    await ActionShowLog().run(dispatcher, from_channel(make_tracker("看看记录", "show_log"), "rest"), project_domain())
    assert charts(dispatcher) == [] and [m.get("response") for m in dispatcher.messages] == ["utter_no_incidents"]
    incidents, _ = stores
    incidents.add(USER, occurred_at=DAY, caller_number="13812345678")
    dispatcher.messages.clear()
    await ActionShowLog().run(dispatcher, from_channel(make_tracker("看看记录", "show_log"), "wechat"), project_domain())
    assert charts(dispatcher) == [] and "一共记了 1 条" in said(dispatcher)
