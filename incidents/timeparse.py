"""Chinese time expressions in a user's message → a local datetime.

No well-kept Chinese time parser is installed, so this is a small one for what
people logging a collection call actually type: "刚才", "半小时前", "昨晚十点半",
"上周五晚上", "11月20号晚上十点", "2026-11-20 22:40", "今天下午3:30", with
Chinese numerals, full-width digits and common Traditional characters.

Decisions (each one tested in tests/unit/test_timeparse.py):

- A clock time with an evening/night word belongs to the night that *starts*
  on that day: "昨晚十二点" / "昨天夜里两点" said on Nov 21 mean Nov 21 00:00 /
  02:00, and "晚上十二点" is 00:00 of the next calendar day.
- "昨晚" is the evening of the previous calendar day even when said just
  after midnight: at 00:30 on Nov 21, "昨晚十一点" is Nov 20 23:00.
- Before 06:00, "今晚"/"今天夜里" mean the night still in progress (it began
  the previous evening): at 00:30 on Nov 21, "今晚十一点" is also Nov 20 23:00;
  and "今天下午三点" is the afternoon that has just ended (Nov 20 15:00), as
  someone not yet asleep says it.
- "凌晨" is read on the calendar: "凌晨一点" today is 01:00 today.
- Without a day word, a time is the most recent one that is not in the
  future ("十点" at 23:00 is 22:00 today; "晚上十点" at 09:00 is yesterday).
  With an explicit "今天" (or a full date) a future time is an error
  (``error="future"``), allowing 5 minutes of clock skew, except before noon:
  "今天下午三点" said at 09:00 is yesterday's afternoon (nothing is logged
  ahead of time), as in the small hours.
- A date without a year that would be in the future is last year's.
- A part of the day without a clock ("昨晚") gets a representative hour and
  ``precision="part_of_day"``; the hours are chosen so that only parts that
  are night by nature (凌晨, 清晨, 夜里, 半夜) fall in the 22:00–08:00 window,
  so an evening never becomes a "night call" by our guess.
- A day without a time ("前天") is that day at 12:00 (or now, if earlier)
  with ``precision="day"``: never a night hour we made up.
- Impossible dates and times ("2月30日", "13月", "25点", "10:75") give
  ``error="impossible_date"`` / ``"impossible_time"`` and no value.
- Several expressions: the first one wins, except that a day alone followed
  later by a time alone are combined ("昨天的电话，一个是下午一点" → yesterday 13:00).

``parse_time`` never raises; text without any time expression gives ``None``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

PRECISIONS = ("minute", "hour", "day", "part_of_day")

# Phones may run a few minutes off; "刚才 10:03" at 10:00 is not "the future".
CLOCK_SKEW = timedelta(minutes=5)
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

# Before this hour, "今晚" still means the night that began yesterday evening
# (people who have not slept yet talk so until dawn).
_SMALL_HOURS_END = 6
# Before noon, a "今天" afternoon or evening time that is still to come means
# yesterday's (nothing can be logged in advance); after noon it is asked back.
_MORNING_END = 12


@dataclass(frozen=True)
class ParsedTime:
    """A time expression found in a message.

    ``value`` is a naive Asia/Shanghai datetime (``None`` for impossible
    dates); for ``error="future"`` it holds the future time that was meant,
    so the bot can ask back. ``text`` is the matched part of the (normalised)
    message.
    """

    value: datetime | None
    precision: str | None
    text: str
    error: str | None = None
    part_of_day: str | None = None
    approximate: bool = False
    # True when "十点" had to be read as 10:00 or 22:00 without a hint: confirm it.
    ambiguous: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None


# -- normalisation ---------------------------------------------------------

# Traditional characters that occur in time expressions (a full OpenCC pass is
# not needed here and keeps this module dependency-free).
_TRAD = str.maketrans(
    {
        "點": "点",
        "時": "时",
        "號": "号",
        "後": "后",
        "週": "周",
        "個": "个",
        "鐘": "钟",
        "兩": "两",
        "淩": "凌",
        "剛": "刚",
        "幾": "几",
        "這": "这",
        "禮": "礼",
        "裡": "里",
        "裏": "里",
        "間": "间",
        "頭": "头",
        "兒": "儿",
        "晝": "昼",
        "現": "现",
        "會": "会",
        "過": "过",
        "〇": "零",
    }
)
_SPACES = re.compile(r"\s+")


def _normalize(text: object) -> str:
    if not isinstance(text, str) or not text:
        return ""
    text = unicodedata.normalize("NFKC", text).translate(_TRAD)
    return _SPACES.sub(" ", text).strip()


# -- numbers ---------------------------------------------------------------

_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ASCII_DIGITS = re.compile(r"[0-9]+")


def cn_int(text: str) -> int | None:
    """``"十一"`` → 11, ``"二十四"`` → 24, ``"零五"`` → 5, ``"2026"`` → 2026; else ``None``."""
    text = (text or "").strip()
    if not text:
        return None
    if _ASCII_DIGITS.fullmatch(text):
        return int(text)
    if "十" in text:
        if text.count("十") > 1:
            return None
        left, right = text.split("十")
        if len(left) > 1 or len(right) > 1:
            return None
        tens = 1 if not left else _CN_DIGITS.get(left)
        ones = 0 if not right else _CN_DIGITS.get(right)
        if tens is None or ones is None:
            return None
        return tens * 10 + ones
    if all(c in _CN_DIGITS for c in text):
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    return None


def _vague_int(text: str) -> int | None:
    """ "几" → 3, "十几" → 15, "二十几" → 25, "几十" → 30 (rough counts)."""
    if text == "几":
        return 3
    if text == "几十":
        return 30
    if text.endswith("几"):
        tens = cn_int(text[:-1])
        if tens is not None and tens % 10 == 0 and tens > 0:
            return tens + 5
    return None


# -- parts of the day ------------------------------------------------------

# canonical key: (label, representative hour, extra day, hour the part begins)
PARTS: dict[str, tuple[str, int, int, int]] = {
    "early_morning": ("凌晨", 3, 0, 0),
    "dawn": ("清晨", 6, 0, 5),
    "morning": ("早上", 8, 0, 6),
    "forenoon": ("上午", 10, 0, 8),
    "noon": ("中午", 12, 0, 11),
    "afternoon": ("下午", 15, 0, 12),
    "dusk": ("傍晚", 18, 0, 17),
    "evening": ("晚上", 20, 0, 18),
    "night": ("夜里", 23, 0, 22),
    "late_night": ("后半夜", 3, 1, 0),
}

_PART_WORDS = {
    "凌晨": "early_morning",
    "一大早": "dawn",
    "一早上": "morning",
    "大清早": "dawn",
    "清早": "dawn",
    "清晨": "dawn",
    "一早": "dawn",
    "早上": "morning",
    "早晨": "morning",
    "早起": "morning",
    "早": "morning",
    "晨": "morning",
    "上午": "forenoon",
    "中午": "noon",
    "晌午": "noon",
    "正午": "noon",
    "午间": "noon",
    "下午": "afternoon",
    "后晌": "afternoon",
    "午后": "afternoon",
    "傍晚": "dusk",
    "黄昏": "dusk",
    "晚上": "evening",
    "晚间": "evening",
    "夜晚": "evening",
    "晚": "evening",
    "夜里": "night",
    "夜间": "night",
    "夜": "night",
    "深夜": "night",
    "半夜": "night",
    "午夜": "night",
    "上半夜": "night",
    "下半夜": "late_night",
    "后半夜": "late_night",
}
_EVENING_PARTS = {"evening", "night", "late_night"}
_DAYTIME_AND_EVENING_PARTS = _EVENING_PARTS | {"forenoon", "noon", "afternoon", "dusk"}

# Hour ranges for showing a part-of-day value back (each representative hour,
# or "now" when a part still in progress was clipped, falls in its own range).
_LABEL_BY_HOUR = (
    (5, "凌晨"),
    (7, "清晨"),
    (9, "早上"),
    (11, "上午"),
    (13, "中午"),
    (17, "下午"),
    (19, "傍晚"),
    (22, "晚上"),
    (24, "夜里"),
)


def part_label(value: datetime) -> str:
    """The part-of-day word for a value stored with ``precision="part_of_day"``."""
    return next(label for end, label in _LABEL_BY_HOUR if value.hour < end)


def _clock_in_part(part: str | None, hour: int) -> tuple[int, int] | None:
    """(24-hour clock, extra days) for "<part> <hour>点"; ``None`` if impossible."""
    if hour > 24:
        return None
    if hour == 24:
        return 0, 1
    if part is None or hour > 12:
        # A 24-hour reading ("22点") is taken literally whatever the part says.
        return hour, 0
    if part == "early_morning":
        return (0 if hour == 12 else hour), 0
    if part in ("dawn", "morning", "forenoon"):
        return hour, 0
    if part == "noon":
        return (hour + 12 if 1 <= hour <= 4 else hour), 0
    if part in ("afternoon", "dusk"):
        return (hour if hour == 12 else hour + 12), 0
    if part == "evening":
        if hour in (0, 12):
            return 0, 1
        return (hour + 12, 0) if hour >= 5 else (hour, 1)
    # night / late_night: "夜里两点" is after midnight, "夜里十一点" before it.
    if hour in (0, 12):
        return 0, 1
    return (hour + 12, 0) if hour >= 7 else (hour, 1)


# -- the grammar -----------------------------------------------------------

_NUM = r"(?:[0-9]{1,4}|[零一二两三四五六七八九十]{1,4})"
_MIN = r"(?:[0-9]{1,2}|[零一二两三四五六七八九十]{1,3})"
_PART_ALT = "|".join(sorted((w for w in _PART_WORDS if len(w) > 1), key=len, reverse=True))

_ATOMS = re.compile(
    rf"""
    (?P<ago>(?P<ago_n>[零一二两三四五六七八九十0-9]*几十?|{_NUM}|半)\s*个?\s*(?P<ago_half>半)?\s*
        (?P<ago_unit>分钟|分|小时|钟头|天|日)\s*(?:以前|之前|前))
  | (?P<now>刚刚|刚才|方才|刚(?=[打来接收又给有发被])|这会儿|此刻)
  | (?P<ymd>(?<![0-9])(?P<y>(?:19|20)[0-9]{{2}})\s*(?:年|[-/.])\s*(?P<y_mo>{_NUM})\s*(?:月|[-/.])\s*
        (?P<y_d>{_NUM})(?![0-9])\s*[日号]?)
  | (?P<md>(?<![0-9])(?P<md_mo>{_NUM})\s*月\s*(?P<md_d>{_NUM})(?![0-9])\s*(?:[日号](?!码))?)
  | (?P<slash>(?<![0-9/])(?P<sl_mo>[0-9]{{1,2}})/(?P<sl_d>[0-9]{{1,2}})(?![0-9/]))
  | (?P<month>(?<![0-9])(?P<mo_only>{_NUM})\s*月(?!份?\s*[0-9零一二两三四五六七八九十]))
  | (?P<dayc>(?P<dayc_day>大前|前|昨|今|明)(?P<dayc_part>早上|早晨|晚上|晚间|夜里|夜间|早|晚|夜|晨)(?!饭))
  | (?P<day>大前天|前天|前日|前儿|昨天|昨日|昨儿|昨个|今天|今日|今儿|今个|大后天|明天|明日|后天)
  | (?P<week>(?P<wk_pre>上上个?|上个?|这个?|本|下个?)?\s*(?:周|星期|礼拜)(?P<wk_day>[一二三四五六日天1-7]))
  | (?P<bareday>(?<![0-9])(?P<bd>{_NUM})\s*[日号](?![码线楼床门院子人]))
  | (?P<part>{_PART_ALT})
  | (?P<part1>[早晚](?=\s*{_NUM}\s*(?:点|时|:)))
  | (?P<colon>(?<![0-9:])(?P<c_h>[0-9]{{1,2}})\s*:\s*(?P<c_m>[0-9]{{2}})(?::[0-9]{{2}})?(?![0-9]))
  | (?P<dian>(?<![0-9])(?P<d_h>{_NUM})\s*(?:点钟|点|时)(?!间|候|期|段)
        (?:\s*(?P<d_half>半)|\s*(?P<d_q1>一刻)|\s*(?P<d_q3>三刻)|\s*(?P<d_zheng>整)
         |\s*(?P<d_m>[0-9]{{1,2}}(?![0-9])|[零一二两三四五六七八九十]{{1,3}}(?![个次人号位通条遍]))\s*分?)?
        (?P<d_approx>\s*(?:多|左右|许|前后))?)
    """,
    re.VERBOSE,
)

# What may stand between two pieces of one expression ("11月20号 晚上的 十点").
_JOINER = re.compile(r"[\s,，、的]*(?:大概|大约|约|差不多)?[\s,，、的]*")
# "晚一点"/"早一点"/"有一点" are not one o'clock.
_NOT_ONE_OCLOCK_AFTER = set("有快慢好差少多早晚大高低等")

_DAY_OFFSETS = {
    "大前天": -3,
    "前天": -2,
    "前日": -2,
    "前儿": -2,
    "昨天": -1,
    "昨日": -1,
    "昨儿": -1,
    "昨个": -1,
    "今天": 0,
    "今日": 0,
    "今儿": 0,
    "今个": 0,
    "明天": 1,
    "明日": 1,
    "后天": 2,
    "大后天": 3,
}
_DAYC_OFFSETS = {"大前": -3, "前": -2, "昨": -1, "今": 0, "明": 1}
_DAYC_PARTS = {"早": "morning", "晨": "morning", "晚": "evening", "夜": "night"}  # by first character
_WEEKDAYS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}
_WEEK_PREFIX = {None: None, "上": -1, "上个": -1, "上上": -2, "上上个": -2, "这": 0, "这个": 0, "本": 0}

_RANK = {"date": 0, "part": 1, "clock": 2}


@dataclass
class _Atom:
    start: int
    end: int
    kind: str  # date | part | clock | relative | error
    data: dict


class _Impossible(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _atoms(text: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    for m in _ATOMS.finditer(text):
        g = m.groupdict()
        start, end = m.span()
        if g["ago"]:
            days = cn_int(g["ago_n"]) if g["ago_unit"] in ("天", "日") and not g["ago_half"] else None
            if days is not None:
                # "三天前" is a day like "前天", so "三天前晚上十点" works too.
                atoms.append(_Atom(start, end, "date", {"offset": -days}))
            else:
                atoms.append(_Atom(start, end, "relative", {"ago": g}))
        elif g["now"]:
            atoms.append(_Atom(start, end, "relative", {"now": True}))
        elif g["ymd"]:
            atoms.append(_Atom(start, end, "date", {"ymd": (g["y"], g["y_mo"], g["y_d"])}))
        elif g["md"]:
            atoms.append(_Atom(start, end, "date", {"md": (g["md_mo"], g["md_d"])}))
        elif g["slash"]:
            atoms.append(_Atom(start, end, "date", {"md": (g["sl_mo"], g["sl_d"])}))
        elif g["month"]:
            month = cn_int(g["mo_only"])
            # A plausible month alone ("11月份") is not a time; "13月" is an error.
            if month is None or not 1 <= month <= 12:
                atoms.append(_Atom(start, end, "error", {"reason": "impossible_date"}))
        elif g["dayc"]:
            atoms.append(
                _Atom(
                    start,
                    end,
                    "date",
                    {"offset": _DAYC_OFFSETS[g["dayc_day"]], "part": _DAYC_PARTS[g["dayc_part"][0]]},
                )
            )
        elif g["day"]:
            atoms.append(_Atom(start, end, "date", {"offset": _DAY_OFFSETS[g["day"]]}))
        elif g["week"]:
            prefix = (g["wk_pre"] or "").strip() or None
            weekday = _WEEKDAYS.get(g["wk_day"]) or int(g["wk_day"])
            weeks = 1 if prefix and prefix.startswith("下") else _WEEK_PREFIX.get(prefix)
            atoms.append(_Atom(start, end, "date", {"week": (weeks, weekday)}))
        elif g["bareday"]:
            atoms.append(_Atom(start, end, "date", {"bareday": g["bd"]}))
        elif g["part"] or g["part1"]:
            word = g["part"] or g["part1"]
            atoms.append(_Atom(start, end, "part", {"part": _PART_WORDS[word], "weak": bool(g["part1"])}))
        elif g["colon"]:
            # "10:30" is a 24-hour clock in Chinese texts: taken literally.
            atoms.append(
                _Atom(start, end, "clock", {"h": g["c_h"], "m": g["c_m"], "approx": False, "literal": True})
            )
        elif g["dian"]:
            if _is_not_a_clock(text, start, g):
                continue
            minute = None
            if g["d_half"]:
                minute = "30"
            elif g["d_q1"]:
                minute = "15"
            elif g["d_q3"]:
                minute = "45"
            elif g["d_zheng"]:
                minute = "0"
            elif g["d_m"]:
                minute = g["d_m"]
            atoms.append(
                _Atom(start, end, "clock", {"h": g["d_h"], "m": minute, "approx": bool(g["d_approx"])})
            )
    return atoms


def _is_not_a_clock(text: str, start: int, g: dict) -> bool:
    """True for 一点 meaning "a little" ("晚一点再打", "有一点"), not one o'clock."""
    if g["d_h"] != "一" or g["d_m"] or g["d_half"] or g["d_q1"] or g["d_q3"]:
        return False
    return start > 0 and text[start - 1] in _NOT_ONE_OCLOCK_AFTER


def _groups(text: str, atoms: list[_Atom]) -> list[list[_Atom]]:
    groups: list[list[_Atom]] = []
    for atom in atoms:
        if groups and atom.kind in _RANK:
            last = groups[-1]
            prev = last[-1]
            joinable = (
                prev.kind in _RANK
                and _RANK[atom.kind] > _RANK[prev.kind]
                and not (atom.kind == "part" and "part" in prev.data)
                and _JOINER.fullmatch(text[prev.end : atom.start]) is not None
            )
            if joinable:
                last.append(atom)
                continue
        groups.append([atom])
    # A weak part ("晚" of "晚8点") only counts in front of a clock.
    cleaned = []
    for group in groups:
        if group[-1].kind == "part" and group[-1].data.get("weak"):
            group = group[:-1]
        if group:
            cleaned.append(group)
    return cleaned


def _pick(groups: list[list[_Atom]]) -> list[_Atom] | None:
    if not groups:
        return None
    first = groups[0]
    kinds = {a.kind for a in first}
    if kinds == {"date"} and "part" not in first[0].data:
        for later in groups[1:]:
            later_kinds = {a.kind for a in later}
            if later_kinds and later_kinds <= {"part", "clock"}:
                return first + later
    return first


# -- resolution ------------------------------------------------------------


def _valid_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except (ValueError, OverflowError):
        raise _Impossible("impossible_date") from None


def _month_day(mo: str, d: str, today: date) -> date:
    month, day = cn_int(mo), cn_int(d)
    if month is None or day is None or not 1 <= month <= 12 or not 1 <= day <= 31:
        raise _Impossible("impossible_date")
    # No year: the most recent such date (Feb 29 goes back to a leap year).
    for year in range(today.year, today.year - 9, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            if (month, day) == (2, 29):
                continue
            raise _Impossible("impossible_date") from None
        if candidate <= today:
            return candidate
    raise _Impossible("impossible_date")


def _bare_day(d: str, today: date) -> date:
    day = cn_int(d)
    if day is None or not 1 <= day <= 31:
        raise _Impossible("impossible_date")
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = date(year, month, day)
            if candidate <= today:
                return candidate
        except ValueError:
            pass
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    raise _Impossible("impossible_date")


@dataclass
class _Day:
    day: date
    explicit: bool  # the user named the day: a future result is an error
    rollback: timedelta | None = None  # otherwise: step back this much when in the future
    part: str | None = None


def _resolve_day(atom: _Atom, now: datetime, part: str | None) -> _Day:
    today = now.date()
    data = atom.data
    if "ymd" in data:
        y, mo, d = data["ymd"]
        month, day = cn_int(mo), cn_int(d)
        if month is None or day is None:
            raise _Impossible("impossible_date")
        return _Day(_valid_date(int(y), month, day), explicit=True)
    if "md" in data:
        return _Day(_month_day(*data["md"], today), explicit=True)
    if "bareday" in data:
        return _Day(_bare_day(data["bareday"], today), explicit=True)
    if "week" in data:
        weeks, weekday = data["week"]
        if weekday is None:
            raise _Impossible("impossible_date")
        if weeks is None:  # bare "周五": the most recent one, today included
            back = (today.isoweekday() - weekday) % 7
            return _Day(today - timedelta(days=back), explicit=False, rollback=timedelta(days=7))
        monday = today - timedelta(days=today.isoweekday() - 1)
        return _Day(monday + timedelta(weeks=weeks, days=weekday - 1), explicit=True)
    offset = data["offset"]
    part = data.get("part") or part
    # Small hours: "今晚" is the night that began yesterday evening, and for
    # someone not yet asleep "今天下午" is the day that has just ended.
    if offset == 0 and part in _DAYTIME_AND_EVENING_PARTS and now.hour < _SMALL_HOURS_END:
        offset = -1
    elif offset == 0 and part in _DAYTIME_AND_EVENING_PARTS and now.hour < _MORNING_END:
        # In the morning, "今天下午三点" cannot be a call still to come: it is the
        # afternoon of the day the user has not yet slept off (yesterday's).
        return _Day(today, explicit=False, rollback=timedelta(days=1), part=data.get("part"))
    return _Day(today + timedelta(days=offset), explicit=True, part=data.get("part"))


def _minute(text: str | None) -> int | None:
    if text is None:
        return None
    value = cn_int(text)
    if value is None or value > 59:
        raise _Impossible("impossible_time")
    return value


def _hour(text: str) -> int:
    value = cn_int(text)
    if value is None or value > 24:
        raise _Impossible("impossible_time")
    return value


def _relative(atom: _Atom, now: datetime, text: str) -> ParsedTime:
    if atom.data.get("now"):
        return ParsedTime(now, "minute", text)
    g = atom.data["ago"]
    raw, unit = g["ago_n"], g["ago_unit"]
    approximate = "几" in raw
    amount = 0.5 if raw == "半" else (_vague_int(raw) if approximate else cn_int(raw))
    if amount is None:
        return ParsedTime(None, None, text, error="impossible_time")
    if g["ago_half"]:
        amount += 0.5
    if unit in ("天", "日"):
        day = now.date() - timedelta(days=int(amount))
        return ParsedTime(_day_value(day, now), "day", text, approximate=approximate)
    minutes = amount if unit in ("分钟", "分") else amount * 60
    whole_hours = unit in ("小时", "钟头") and float(amount).is_integer()
    precision = "hour" if whole_hours or approximate else "minute"
    value = (now - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    return ParsedTime(value, precision, text, approximate=approximate)


def _day_value(day: date, now: datetime) -> datetime:
    # Noon stands for "some time that day"; for today, never later than now.
    noon = datetime.combine(day, time(12, 0))
    if day == now.date():
        return min(noon, now.replace(second=0, microsecond=0))
    return noon


def _resolve(group: list[_Atom], now: datetime, text: str) -> ParsedTime:
    date_atom = next((a for a in group if a.kind == "date"), None)
    part_atom = next((a for a in group if a.kind == "part"), None)
    clock = next((a for a in group if a.kind == "clock"), None)
    part = part_atom.data["part"] if part_atom else None
    if date_atom and date_atom.data.get("part"):
        part = part or date_atom.data["part"]

    day = _resolve_day(date_atom, now, part) if date_atom else None
    if day is None:
        day = _Day(now.date(), explicit=False, rollback=timedelta(days=1))

    if clock:
        hour = _hour(clock.data["h"])
        minute = _minute(clock.data["m"])
        approximate = clock.data["approx"]
        precision = "hour" if minute is None or approximate else "minute"
        ambiguous = part is None and not clock.data.get("literal") and 1 <= hour <= 12
        if ambiguous and date_atom is None:
            # "十点" alone: 10:00 or 22:00, whichever came last.
            candidates = [(12, 0), (0, 1)] if hour == 12 else [(hour, 0), (hour + 12, 0)]
        else:
            resolved = _clock_in_part(part, hour)
            if resolved is None:
                raise _Impossible("impossible_time")
            candidates = [resolved]
        values = [
            datetime.combine(day.day + timedelta(days=extra), time(h, minute or 0)) for h, extra in candidates
        ]
        return _finish(values, day, now, text, precision, part, approximate, ambiguous)

    if part:
        _, hour, extra, _begins = PARTS[part]
        value = datetime.combine(day.day + timedelta(days=extra), time(hour, 0))
        return _finish([value], day, now, text, "part_of_day", part, False, False)

    return _finish([_day_value(day.day, now)], day, now, text, "day", None, False, False)


def _finish(
    values: list[datetime],
    day: _Day,
    now: datetime,
    text: str,
    precision: str,
    part: str | None,
    approximate: bool,
    ambiguous: bool,
) -> ParsedTime:
    limit = now + CLOCK_SKEW
    if not day.explicit and day.rollback is not None:
        # "半夜三点" said at 01:00 may need two steps back.
        for _ in range(2):
            values = [v if v <= limit else v - day.rollback for v in values]
    label = PARTS[part][0] if part else None
    result = {
        "precision": precision,
        "part_of_day": label,
        "approximate": approximate,
        "ambiguous": ambiguous,
    }
    past = [v for v in values if v <= limit]
    if past:
        return ParsedTime(max(past), text=text, **result)
    if precision == "part_of_day" and part:
        # "今天下午" at 14:00: the afternoon has begun, so it happened by now.
        begins = PARTS[part][3]
        start = datetime.combine(values[0].date(), time(begins, 0))
        if start <= now:
            return ParsedTime(now.replace(second=0, microsecond=0), text=text, **result)
    return ParsedTime(min(values), text=text, error="future", **result)


def _matched_text(text: str, group: list[_Atom]) -> str:
    """The expression as typed; pieces combined from two places joined by a space."""
    pieces = [[group[0].start, group[0].end]]
    for atom in group[1:]:
        if _JOINER.fullmatch(text[pieces[-1][1] : atom.start]):
            pieces[-1][1] = atom.end
        else:
            pieces.append([atom.start, atom.end])
    return " ".join(text[a:b].strip() for a, b in pieces)


def _local_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(SHANGHAI).replace(tzinfo=None)
    if now.tzinfo is not None:
        return now.astimezone(SHANGHAI).replace(tzinfo=None)
    return now


def parse_time(text: str, now: datetime | None = None) -> ParsedTime | None:
    """Find the time of an incident in ``text``, relative to ``now``.

    ``now`` is naive Asia/Shanghai local time (an aware datetime is converted;
    ``None`` means the current time). Returns ``None`` when the text holds no
    time expression, and a ``ParsedTime`` with ``error`` set for impossible
    or future times. Never raises.
    """
    matched = ""
    try:
        now = _local_now(now)
        norm = _normalize(text)
        if not norm:
            return None
        group = _pick(_groups(norm, _atoms(norm)))
        if not group:
            return None
        # Pieces combined from two places are shown as "昨天 下午一点".
        matched = _matched_text(norm, group)
        if any(a.kind == "error" for a in group):
            return ParsedTime(None, None, matched, error=group[0].data.get("reason", "impossible_date"))
        if group[0].kind == "relative":
            return _relative(group[0], now, matched)
        return _resolve(group, now, matched)
    except _Impossible as exc:
        return ParsedTime(None, None, matched, error=exc.reason)
    except (ValueError, OverflowError, TypeError):
        # Dates near year 1 or 9999, or a ``now`` that is not a datetime.
        return None
