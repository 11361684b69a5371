"""Extraction rules on OCR lines written by hand (no engine): layouts, undated rows, chrome, company."""

from datetime import date, datetime

from evidence import extract
from evidence.ocr import OcrLine, OcrResult

NOW = datetime(2026, 11, 28, 10, 0)


def screen(*rows: list[tuple[str, int]], height: int = 2400) -> OcrResult:
    """Each row: [(text, x), ...] at y = 200 + 100 * row number."""
    lines = []
    for n, row in enumerate(rows):
        y = 200 + 100 * n
        for text, x in row:
            lines.append(OcrLine(text, ((x, y), (x + 200, y), (x + 200, y + 40), (x, y + 40)), 0.99))
    return OcrResult(lines, 1080, height)


def test_rows_without_a_date_wait_for_the_user_instead_of_getting_one():
    reading = extract.read(
        screen([("13812345678", 40), ("未接", 600), ("23:10", 900)], [("13812345678", 40), ("未接", 600), ("23:40", 900)]),
        now=NOW,
    )
    assert reading.kind == "call_log" and reading.entries_needing_date == 2
    assert all(c.occurred_at is None and c.day_text is None for c in reading.calls)
    entries = extract.proposed_entries(reading)
    assert [e["occurred_at"] for e in entries] == [None, None]
    text = extract.summary(reading)
    assert "日期没看清" in text and "有 2 条没有读到日期" in text
    dated = extract.with_day(reading, date(2026, 11, 25), now=NOW)
    assert [c.occurred_at for c in dated.calls] == [datetime(2026, 11, 25, 23, 10), datetime(2026, 11, 25, 23, 40)]
    assert dated.entries_needing_date == 0


def test_two_line_entries_relative_headers_and_the_phones_own_words():
    reading = extract.read(
        screen(
            [("通话记录", 40)],
            [("全部", 40), ("未接", 300)],
            [("昨天", 40)],
            [("171 2345 6789", 40), ("22:41", 900)],
            [("江苏南京 移动 未接", 40)],
            [("催收小王", 40), ("呼入", 600), ("23:05", 900)],
            [("11-20", 40)],
            [("0755-87654321", 40), ("未接", 600), ("晚上11:10", 900)],
        ),
        now=NOW,
    )
    assert reading.kind == "call_log"
    calls = reading.calls
    assert [(c.number, c.label, c.status) for c in calls] == [
        ("17123456789", None, "missed"),
        (None, "催收小王", "incoming"),
        ("0755-87654321", None, "missed"),
    ]
    assert [c.occurred_at for c in calls] == [
        datetime(2026, 11, 27, 22, 41),
        datetime(2026, 11, 27, 23, 5),
        datetime(2026, 11, 20, 23, 10),
    ]


def test_a_row_of_a_date_alone_gives_a_day_and_no_made_up_time():
    reading = extract.read(
        screen([("13812345678", 40), ("未接", 600), ("11月18日", 900)], [("13812345678", 40), ("未接", 600), ("11月19日", 900)]),
        now=NOW,
    )
    assert [(c.occurred_at, c.time_precision, c.clock) for c in reading.calls] == [
        (datetime(2026, 11, 18, 12, 0), "day", None),
        (datetime(2026, 11, 19, 12, 0), "day", None),
    ]


def test_the_status_bar_and_a_clock_alone_are_not_calls():
    reading = extract.read(screen([("09:41", 40), ("87%", 900)], height=2400), now=NOW)
    assert reading.calls == () and extract.proposed_entries(reading) == []
    assert extract.summary(reading).startswith("这张图里没有读到")
    # 09:41 sits in the status bar (top 4.5 % of a 2400 px screen starts at y=200 here: move it).
    top = OcrResult([OcrLine("09:41", ((40, 20), (140, 20), (140, 60), (40, 60)), 0.99)], 1080, 2400)
    assert extract.read(top, now=NOW).times == ()


def test_collector_words_and_claimed_companies():
    text = "【速还法务】您好，我们是深圳市鑫达资产管理有限公司，你作为他的家人必须替他还。我们是XX区法院的，明天上门。"
    assert extract.companies(text) == ["速还法务", "深圳市鑫达资产管理有限公司"]
    assert {"demand_family_pay", "impersonation", "visits"} <= set(extract.conduct(text))
    assert extract.conduct("您的账单已出，请按时还款。") == []
    assert "ant_consumer_finance" in extract.lenders("您的借呗已逾期")


def test_messages_before_any_timestamp_keep_no_time():
    reading = extract.read(screen([("106901234567", 300)], [("再不还钱后果自负", 40)]), now=NOW)
    assert reading.kind == "messages" and reading.sender == "106901234567"
    [message] = reading.messages
    assert message.occurred_at is None and message.behaviours == ("threats",)
    assert extract.proposed_entries(reading)[0]["occurred_at"] is None
