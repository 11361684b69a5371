"""The evidence pack: the zip's contents, every manifest hash, the timeline .docx and the chart."""

import hashlib
import io
import json
import wave
import zipfile
from datetime import UTC, datetime

import pytest
from docx import Document
from PIL import Image

from evidence import chart, files, pack, samples
from evidence.fonts import NoCJKFont, cjk_font_path
from evidence.store import EvidenceStore
from incidents.store import IncidentStore

RECEIVED = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def font():
    try:
        return cjk_font_path()
    except NoCJKFont as exc:
        pytest.fail(str(exc), pytrace=False)


def wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x01\x00" * 16000)
    return buffer.getvalue()


@pytest.fixture
def stores(tmp_path, font):
    url = f"sqlite:///{tmp_path}/incidents.db"
    incidents = IncidentStore(url)
    times = iter([RECEIVED, RECEIVED.replace(minute=45), RECEIVED.replace(hour=5)])
    evidence = EvidenceStore(url, directory=tmp_path / "evidence", clock=lambda: next(times))
    yield incidents, evidence
    incidents.dispose()
    evidence.dispose()


def fill(incidents, evidence):
    ids = [
        incidents.add("alice", occurred_at=datetime(2026, 11, 20, h, m), caller_number="13812345678").id
        for h, m in [(7, 12), (9, 30), (12, 0), (15, 0), (22, 41), (23, 10), (23, 40)]
    ]
    threat = incidents.add(
        "alice",
        occurred_at=datetime(2026, 11, 21, 23, 5),
        caller_number="1069 0123 4567",
        description="我们是南山区法院的，明天上门。",
        behaviours=["threats", "impersonation"],
        evidence=["screenshot"],
    )
    shot = samples.png_bytes(samples.sample_call_log())
    audio = wav()
    evidence.add("alice", shot, files.check(shot, "a.png"), channel="web", incident_ids=ids[:3], description="通话记录")
    evidence.add("alice", audio, files.check(audio, "r.wav"), channel="wechat", incident_ids=[threat.id], description="威胁的录音")
    incidents.add("bob", occurred_at=datetime(2026, 11, 20, 23, 0), caller_number="13900000000")
    evidence.add("bob", shot, files.check(shot, "b.png"), channel="web")
    return ids, threat, shot, audio


def test_the_pack_holds_everything_and_every_hash_matches(stores):
    incidents, evidence = stores
    ids, threat, shot, audio = fill(incidents, evidence)
    data = pack.build_pack_for("alice", incidents, evidence, now=RECEIVED)
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert {"timeline.docx", "chart.png", "manifest.json", "README.txt"} <= set(names)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["entries"] == 8 and len(manifest["files"]) == 2  # only alice's
    for item in manifest["files"] + manifest["generated_files"]:
        assert hashlib.sha256(archive.read(item["name"])).hexdigest() == item["sha256"]
        assert len(archive.read(item["name"])) == item["size"]
    first, second = manifest["files"]
    assert archive.read(first["name"]) == shot and archive.read(second["name"]) == audio
    assert first["name"] == "files/01_20261128-103000.png"
    assert first["received_at_utc"] == "2026-11-28T02:30:00+00:00"
    assert first["received_at_beijing"] == "2026-11-28T10:30:00+08:00"
    assert (first["source"], first["linked_entries"], first["type"]) == ("web", [1, 2, 3], "png")
    assert (second["source"], second["linked_entries"], second["duration_seconds"]) == ("wechat", [8], 2.0)
    assert all(name.isascii() for name in names)

    note = archive.read("README.txt").decode("utf-8-sig")
    assert "sha256sum" in note and "certutil -hashfile" in note and "公证" in note and "派出所" in note

    document = Document(io.BytesIO(archive.read("timeline.docx")))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "1. 11月20日 07:12 · 13812345678 来电" in text  # numbers in full, as in the letters
    assert "8. 11月21日 23:05" in text and "威胁恐吓" in text
    assert "深夜或清晨联系" in text and "一天内联系次数过多" in text
    assert "files/01_20261128-103000.png" in text and first["sha256"] in text
    assert "13900000000" not in text and len(document.inline_shapes) == 1


def test_an_empty_log_still_gives_a_pack(stores):
    incidents, evidence = stores
    archive = zipfile.ZipFile(io.BytesIO(pack.build_pack_for("nobody", incidents, evidence)))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["entries"] == 0 and manifest["files"] == []
    assert "没有发现明确违反的规定" in "\n".join(
        p.text for p in Document(io.BytesIO(archive.read("timeline.docx"))).paragraphs
    )


def test_the_chart_renders_days_hours_night_and_the_limit(font, kb):
    entries = [
        {"id": n, "occurred_at": datetime(2026, 11, 20, h, 0), "time_precision": "minute", "attempts": 1,
         "contacted_person": "母亲", "caller_number": "13812345678"}
        for n, h in enumerate([1, 7, 9, 13, 22, 23, 23], 1)
    ] + [{"id": 9, "occurred_at": datetime(2026, 11, 24, 12, 0), "time_precision": "day", "attempts": 2}]
    png = chart.render_chart(entries, kb)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1000, 800)
    # The over-limit day is drawn red somewhere in the upper half.
    upper = image.convert("RGB").crop((0, 0, 1000, 400))
    assert any(abs(r - 214) < 6 and abs(g - 69) < 6 and abs(b - 69) < 6 for (r, g, b) in upper.getdata())
    empty = Image.open(io.BytesIO(chart.render_chart([], kb)))
    assert empty.size == (1000, 800)


def test_a_missing_font_fails_with_how_to_install_it(monkeypatch):
    monkeypatch.setenv("ANXIN_CJK_FONT", "/nonexistent/font.ttc")
    cjk_font_path.cache_clear()
    try:
        with pytest.raises(NoCJKFont, match="apt-get install fonts-wqy-microhei"):
            cjk_font_path()
    finally:
        cjk_font_path.cache_clear()
