"""Chinese time expressions → local datetimes, relative to "now".

NOW is Saturday 2026-11-28 15:10; MIDNIGHT is 00:30 on Saturday 2026-11-21,
for the expressions whose meaning changes just after midnight.
"""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.timeparse import CLOCK_SKEW, ParsedTime, cn_int, parse_time, part_label

NOW = datetime(2026, 11, 28, 15, 10)
MIDNIGHT = datetime(2026, 11, 21, 0, 30)
SMALL_HOURS = datetime(2026, 11, 21, 3, 0)


def d(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute)


@pytest.mark.parametrize(
    "text, expected, precision",
    [
        # just now and "… ago"
        ("刚才", d(28, 15, 10), "minute"),
        ("刚刚又打来了", d(28, 15, 10), "minute"),
        ("他刚打来", d(28, 15, 10), "minute"),
        ("5分钟前", d(28, 15, 5), "minute"),
        ("五分钟前", d(28, 15, 5), "minute"),
        ("大概半小时前", d(28, 14, 40), "minute"),
        ("半个小时之前", d(28, 14, 40), "minute"),
        ("两个小时前", d(28, 13, 10), "hour"),
        ("一个半小时前", d(28, 13, 40), "minute"),
        ("3天前", d(25, 12), "day"),
        ("三天前晚上十点", d(25, 22), "hour"),
        ("几天前", d(25, 12), "day"),
        # day words, alone and with a part of the day or a clock
        ("今天", d(28, 12), "day"),
        ("昨天", d(27, 12), "day"),
        ("前天", d(26, 12), "day"),
        ("大前天", d(25, 12), "day"),
        ("今早", d(28, 8), "part_of_day"),
        ("昨晚", d(27, 20), "part_of_day"),
        ("昨天夜里", d(27, 23), "part_of_day"),
        ("今天下午", d(28, 15), "part_of_day"),
        ("昨晚十点半", d(27, 22, 30), "minute"),
        ("前天晚上10点15分", d(26, 22, 15), "minute"),
        ("今天下午三点", d(28, 15), "hour"),
        ("今天下午2:30", d(28, 14, 30), "minute"),
        ("今天上午九点四十", d(28, 9, 40), "minute"),
        ("今天下午3:14", d(28, 15, 14), "minute"),  # 4 minutes ahead: clock skew
        # weeks (NOW is a Saturday)
        ("上周五晚上", d(20, 20), "part_of_day"),
        ("这周一", d(23, 12), "day"),
        ("上个星期三", d(18, 12), "day"),
        ("上礼拜天", d(22, 12), "day"),
        ("周五", d(27, 12), "day"),
        ("星期六上午十点", d(28, 10), "hour"),
        # dates
        ("11月20日22:40", d(20, 22, 40), "minute"),
        ("11月20号晚上十点", d(20, 22), "hour"),
        ("2026-11-20 22:40", d(20, 22, 40), "minute"),
        ("2026年11月20日", d(20, 12), "day"),
        ("2026.11.20", d(20, 12), "day"),
        ("11/20 22:40", d(20, 22, 40), "minute"),
        ("十一月二十号", d(20, 12), "day"),
        ("20号下午四点", d(20, 16), "hour"),
        ("12月1日", d(1, 12, month=12, year=2025), "day"),  # no year, would be future: last year
        ("2月29日", d(29, 12, month=2, year=2024), "day"),  # the last Feb 29
        # parts of the day with a clock
        ("早上七点", d(28, 7), "hour"),
        ("中午12:20", d(28, 12, 20), "minute"),
        ("下午两点一刻", d(28, 14, 15), "minute"),
        ("傍晚六点三刻", d(27, 18, 45), "minute"),  # today's is still to come
        ("晚上十一点", d(27, 23), "hour"),
        ("晚8点", d(27, 20), "hour"),
        ("夜里两点", d(28, 2), "hour"),
        ("凌晨一点", d(28, 1), "hour"),
        ("晚上十二点", d(28, 0), "hour"),
        ("半夜十二点", d(28, 0), "hour"),
        # numerals
        ("十点半", d(28, 10, 30), "minute"),
        ("两点", d(28, 14), "hour"),
        ("十一点四十", d(28, 11, 40), "minute"),
        ("零点", d(28, 0), "hour"),
        ("２２:１５", d(27, 22, 15), "minute"),
        ("今天１２点３０分", d(28, 12, 30), "minute"),
        ("22时40分", d(27, 22, 40), "minute"),
        # dialect and Traditional characters
        ("昨个后晌四点多", d(27, 16), "hour"),
        ("昨儿夜里十二点多", d(28, 0), "hour"),
        ("幫我記一下 昨晚十點半有人打給我媽", d(27, 22, 30), "minute"),
        ("今个早上", d(28, 8), "part_of_day"),
        # inside a whole message
        ("帮我计一下 刚才催手又打我妈电话了", d(28, 15, 10), "minute"),
        ("记录：11月20日22:40 号码 +86 173 0042 8816 打给我老婆", d(20, 22, 40), "minute"),
        ("我想把昨天的两次骚扰电话都记一下 一个是下午一点", d(27, 13), "hour"),
        ("晚上十点两个号码打来", d(27, 22), "hour"),
    ],
)
def test_expressions(text, expected, precision):
    result = parse_time(text, NOW)
    assert result is not None, text
    assert result.error is None, (text, result)
    assert result.ok
    assert (result.value, result.precision) == (expected, precision)


@pytest.mark.parametrize(
    "text, now, expected",
    [
        # Decided: "昨晚" after midnight is the previous calendar day's evening.
        ("昨晚十一点", MIDNIGHT, d(20, 23)),
        ("昨晚", MIDNIGHT, d(20, 20)),
        # An evening clock belongs to the night that starts that evening.
        ("昨晚十二点", MIDNIGHT, d(21, 0)),
        ("昨天夜里两点", SMALL_HOURS, d(21, 2)),
        # Before 06:00, "今晚" is the night still in progress.
        ("今晚十一点", MIDNIGHT, d(20, 23)),
        ("今天夜里", MIDNIGHT, d(20, 23)),
        # ...and "今天下午" is the afternoon that has just ended, for someone not yet asleep.
        ("今天下午三点", MIDNIGHT, d(20, 15)),
        ("今天上午十点", SMALL_HOURS, d(20, 10)),
        # Still so at 05:30 (not slept yet); but "今天早上五点" is this morning.
        ("今天下午三点", datetime(2026, 11, 21, 5, 30), d(20, 15)),
        ("今天早上五点", datetime(2026, 11, 21, 5, 30), d(21, 5)),
        # In the morning a "today" afternoon or evening still to come is yesterday's
        # (nothing is logged ahead); one that has passed stays today's.
        ("今天下午两点", datetime(2026, 11, 21, 6, 20), d(20, 14)),
        ("今天晚上九点半", datetime(2026, 11, 21, 10, 0), d(20, 21, 30)),
        ("今天上午十点", datetime(2026, 11, 21, 11, 0), d(21, 10)),
        ("晚上十二点", MIDNIGHT, d(21, 0)),
        ("半夜十二点", MIDNIGHT, d(21, 0)),
        # "凌晨" is read on the calendar.
        ("凌晨一点", SMALL_HOURS, d(21, 1)),
        ("今天凌晨一点", SMALL_HOURS, d(21, 1)),
        ("凌晨一点", MIDNIGHT, d(20, 1)),  # today's 01:00 has not come yet
        ("十点", MIDNIGHT, d(20, 22)),
        ("22:15", MIDNIGHT, d(20, 22, 15)),
        ("周五晚上", MIDNIGHT, d(20, 20)),
        # The same words late in the evening.
        ("今晚十一点", datetime(2026, 11, 21, 23, 0), d(21, 23)),
        ("十点", datetime(2026, 11, 21, 23, 0), d(21, 22)),
    ],
)
def test_around_midnight(text, now, expected):
    result = parse_time(text, now)
    assert result is not None and result.ok, (text, result)
    assert result.value == expected


@pytest.mark.parametrize(
    "text, now, error",
    [
        ("2月30日", NOW, "impossible_date"),
        ("13月", NOW, "impossible_date"),
        ("13月5日", NOW, "impossible_date"),
        ("2026年2月29日", NOW, "impossible_date"),
        ("32号", NOW, "impossible_date"),
        ("25点", NOW, "impossible_time"),
        ("10:75", NOW, "impossible_time"),
        ("今天下午五点", NOW, "future"),
        ("今天下午3:30", NOW, "future"),  # 20 minutes ahead: beyond the skew
        ("今天下午3:16", NOW, "future"),
        ("今晚", NOW, "future"),
        ("明天", NOW, "future"),
        ("这周日", NOW, "future"),
        ("2027年1月1日", NOW, "future"),
        ("今天凌晨一点", MIDNIGHT, "future"),
        ("今天早上", MIDNIGHT, "future"),
    ],
)
def test_errors(text, now, error):
    result = parse_time(text, now)
    assert result is not None
    assert result.error == error
    assert not result.ok
    if error == "future":
        assert result.value > now + CLOCK_SKEW  # kept, so the bot can ask back
    else:
        assert result.value is None


@pytest.mark.parametrize(
    "text", ["", "   ", "你好", "晚一点再打", "我没有时间", "11月份", "欠了3万", "188开头"]
)
def test_no_time_expression(text):
    assert parse_time(text, NOW) is None


@pytest.mark.parametrize("text", [None, 123, b"bytes", ["list"]])
def test_not_text_gives_none(text):
    assert parse_time(text, NOW) is None


def test_matched_text_and_flags():
    result = parse_time("记一下 昨晚十点半 又打来了", NOW)
    assert result.text == "昨晚十点半"
    assert result.part_of_day == "晚上"
    assert parse_time("十点", NOW).ambiguous
    assert not parse_time("晚上十点", NOW).ambiguous
    assert not parse_time("22:00", NOW).ambiguous
    assert parse_time("十点多", NOW).approximate


def test_aware_now_is_converted_to_shanghai():
    utc_now = datetime(2026, 11, 28, 7, 10, tzinfo=UTC)  # 15:10 in Shanghai
    assert parse_time("刚才", utc_now).value == NOW


def test_part_labels_round_trip():
    for text in ("凌晨", "清晨", "早上", "上午", "中午", "下午", "傍晚", "晚上", "夜里"):
        result = parse_time("昨天" + text, NOW)
        assert result.precision == "part_of_day"
        assert part_label(result.value) == text


def test_only_night_parts_fall_in_the_night_window():
    """Representative hours never turn an evening into a "night call"."""
    for text, night in (("昨天晚上", False), ("昨天早上", False), ("昨天夜里", True), ("昨天凌晨", True)):
        hour = parse_time(text, NOW).value.hour
        assert (hour >= 22 or hour < 8) is night, text


@pytest.mark.parametrize(
    "text, value",
    [("十一", 11), ("二十四", 24), ("十", 10), ("零五", 5), ("两", 2), ("2026", 2026), ("十十", None)],
)
def test_chinese_numbers(text, value):
    assert cn_int(text) == value


# -- never raises ------------------------------------------------------------

FRAGMENTS = [
    "今天", "昨晚", "前天", "上周五", "11月", "20日", "号", "2026-", "13", "/", ":", "：", "点", "半", "一刻",
    "晚上", "凌晨", "半夜", "十二", "两", "零", "25", "分钟前", "小时前", "刚才", "周", "星期", "几", "多",
    "２", " ", "的", "年", "0", "99", "〇", "點",
]  # fmt: skip


def _check(result, now):
    assert result is None or isinstance(result, ParsedTime)
    if result is not None and result.ok:
        assert result.value <= now + CLOCK_SKEW
        assert result.precision in ("minute", "hour", "day", "part_of_day")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_any_text(text):
    _check(parse_time(text, NOW), NOW)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join),
    st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2099, 12, 31)),
)
def test_never_raises_on_time_like_text(text, now):
    _check(parse_time(text, now), now)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=20), st.sampled_from([datetime.min, datetime.max, datetime.min + timedelta(hours=1)]))
def test_never_raises_at_the_ends_of_time(text, now):
    parse_time(text, now)
