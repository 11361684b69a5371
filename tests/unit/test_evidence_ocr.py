"""OCR of generated screenshots (Pillow + the CJK font setup installs), read back by the
project's parsers. One engine load for the module; each screen is read once."""

import asyncio
import time
from datetime import datetime

import pytest

from evidence import extract, ocr, samples
from evidence.fonts import NoCJKFont, cjk_font_path

RECEIVED = datetime(2026, 11, 28, 10, 0)  # Beijing time the screenshot arrived


@pytest.fixture(scope="module")
def font():
    try:
        return cjk_font_path()
    except NoCJKFont as exc:  # never a silent skip: the screens cannot be drawn without it
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def call_log_read(font):
    return ocr.read_lines(samples.png_bytes(samples.sample_call_log()))


@pytest.fixture(scope="module")
def sms_read(font):
    return ocr.read_lines(samples.png_bytes(samples.sample_sms()))


def test_ocr_reads_the_numbers_and_times_of_a_call_log_back(call_log_read):
    assert (call_log_read.width, call_log_read.height) == (1080, 2400)
    reading = extract.read(call_log_read, now=RECEIVED)
    assert reading.kind == "call_log"
    assert set(reading.phones) == {"13812345678", "0755-87654321", "17123456789", "13987654321"}
    for call in samples.CALLS_NOV_20:
        assert call.clock in reading.times
    # Reading order: rows top to bottom, each left to right.
    texts = [line.text for line in call_log_read.lines]
    assert texts[-3:] == ["139 8765 4321", "呼出", "23:30"] or texts[-1] == "23:30"
    assert texts.index("通话记录") < texts.index("07:12") < texts.index("09:30")


def test_one_proposed_entry_per_incoming_call_row_and_nothing_invented(call_log_read):
    reading = extract.read(call_log_read, now=RECEIVED)
    drawn = samples.CALLS_NOV_20
    assert len(reading.calls) == len(drawn)
    for call, row in zip(reading.calls, drawn, strict=True):
        assert call.clock == row.clock and call.count == row.count
        assert call.number == row.number.replace(" ", "")
        assert call.occurred_at == datetime(2026, 11, 20, *map(int, row.clock.split(":")))
    statuses = [c.status for c in reading.calls]
    assert statuses == ["missed", "missed", "incoming", "missed", "missed", "outgoing"]
    entries = extract.proposed_entries(reading)
    assert len(entries) == 5  # the outgoing call is the user's own
    assert [e["attempts"] for e in entries] == [1, 1, 1, 3, 1]
    assert all(e["evidence"] == ["call_log"] and e["behaviours"] == [] for e in entries)
    assert {e["caller_number"] for e in entries} == {"13812345678", "0755-87654321", "17123456789"}
    text = extract.summary(reading)
    assert text.startswith("我从截图里读到：") and text.endswith("记为 5 条来电记录？")
    assert "11月20日 23:10 13812345678 未接" in text and "（3 次）" in text
    assert "另有 1 条是您打出去的电话" in text


def test_the_sms_screen_gives_sender_times_conduct_and_company(sms_read):
    reading = extract.read(sms_read, now=RECEIVED)
    assert reading.kind == "messages" and reading.sender == "106901234567"
    assert [m.occurred_at for m in reading.messages] == [datetime(2026, 11, 20, 22, 41), datetime(2026, 11, 21, 23, 5)]
    first, second = reading.messages
    assert "后果自负" in first.text and {"threats", "demand_family_pay"} <= set(first.behaviours)
    assert {"impersonation", "insults", "visits"} <= set(second.behaviours)
    assert "鑫达资产管理" in reading.companies
    entries = extract.proposed_entries(reading)
    assert len(entries) == 2 and all(e["caller_number"] == "106901234567" for e in entries)
    assert all(e["evidence"] == ["screenshot"] for e in entries)
    text = extract.summary(reading)
    assert "威胁恐吓" in text and "对方自称：鑫达资产管理" in text and text.endswith("记为 2 条短信/消息记录？")


def test_the_engine_is_loaded_once_and_ocr_runs_off_the_event_loop(font, call_log_read):
    assert ocr.engine_loaded()
    engine = ocr.engine()
    image = samples.sample_sms()

    async def main():
        ticks = 0
        stop = False

        async def ticker():
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        result = await ocr.read_lines_async(image)
        elapsed = time.monotonic() - started
        stop = True
        await task
        return result, ticks, elapsed

    result, ticks, elapsed = asyncio.run(main())
    assert ocr.engine() is engine
    assert any("后果自负" in line.text for line in result.lines)
    # The loop kept running while OCR worked: about one tick per 10 ms.
    assert ticks >= max(3, int(elapsed / 0.01 * 0.3))
