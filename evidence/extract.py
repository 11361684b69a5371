"""From OCR lines to what a screenshot shows, with the project's own parsers.

- phone numbers: ``incidents.phones.find_phones``;
- dates and times: ``incidents.timeparse.parse_time`` (relative to the time
  the file was received: "昨天" in a call log is the day before the upload);
- what was said: ``advisor.conduct.behaviours_in`` (the knowledge file's
  patterns, the same ones the EntityRuler uses) plus the collector-voice
  patterns of ``patterns.yml``;
- the claimed company: a 【signature】, a name ending in 公司/律师事务所/
  资产管理/法务部/…, and any lender alias of the knowledge file.

A call-log screen becomes one ``CallRow`` per call row (date header rows
give the day to the rows under them; 未接/呼出/呼入/拒接 and a "(3)" count
are read when shown). A chat or SMS screen becomes one ``Message`` per
timestamp. Nothing is invented: a number, day or time that was not read
stays ``None``, and an entry whose day is unknown waits for the user
(``needs_date``) instead of being given one.

``proposed_entries`` gives keyword arguments for ``IncidentStore.add``;
``summary`` the sentence that asks the user to confirm them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import yaml

import knowledge
from advisor.conduct import behaviours_in
from evidence.ocr import OcrLine, OcrResult, rows
from evidence.texts import messages
from incidents.phones import find_phones
from incidents.rules import when_text
from incidents.timeparse import parse_time

PATTERNS = Path(__file__).with_name("patterns.yml")
STATUS_BAR = 0.045  # top share of the screen: the phone's clock and battery
INPUT_BAR = 0.93  # bottom share of a chat screen: the input box
MAX_MESSAGE = 500

STATUS_WORDS = {
    "未接来电": "missed",
    "未接听": "missed",
    "未接": "missed",
    "已拒接": "rejected",
    "拒接": "rejected",
    "呼出": "outgoing",
    "去电": "outgoing",
    "已拨": "outgoing",
    "呼入": "incoming",
    "已接": "incoming",
}
# Words of the phone's own screens, never a caller or a message.
CHROME = {
    "通话记录", "最近通话", "电话", "全部", "全部通话", "未接来电", "联系人", "拨号", "收藏", "编辑",
    "短信", "信息", "通话", "拨号键盘", "营业厅", "发送", "短信/彩信", "输入信息", "彩信", "新信息",
    "清空", "搜索", "更多", "详情", "返回", "最近", "个人收藏", "语音信箱", "来电", "未接",
}
_CLOCK = re.compile(r"(?<![0-9:：])(?:[01]?[0-9]|2[0-3])\s*[:：]\s*[0-5][0-9](?![0-9])")
_DASH_DATE = re.compile(r"(?<![0-9\-])(1[0-2]|0?[1-9])-([0-3]?[0-9])(?![0-9\-])")
_WEEKDAY = re.compile(r"(?:星期|周|礼拜)[一二三四五六日天]")
_COUNT = re.compile(r"[(（]\s*([0-9]{1,3})\s*[)）]")
_SIGNATURE = re.compile(r"【([^【】\s]{2,20})】")
_COMPANY = re.compile(
    r"(?:.*(?:我们是|我是|这里是|本人是|来自|自称|代表|委托))?"
    r"(?P<name>[\u4e00-\u9fa5A-Za-z0-9（）()]{2,24}"
    r"(?:有限责任公司|股份有限公司|有限公司|公司|律师事务所|事务所|资产管理|法务部|法务中心|催收部|催收中心|调解中心|调解委员会))"
)
_CLAUSE = re.compile(r"[，。！？；：、,.!?;:\s“”\"]+")
_LEADING = re.compile(r"^(?:您好|你好|尊敬的客户|我们是|我是|这里是|本人是|来自|自称)+")
_NOT_CJK_OR_WORD = re.compile(r"[^\u4e00-\u9fa5A-Za-z0-9]")


@functools.lru_cache(maxsize=1)
def _voice_patterns() -> dict[str, re.Pattern]:
    with PATTERNS.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    return {key: re.compile("|".join(f"(?:{p})" for p in values)) for key, values in raw.items() if values}


def conduct(text: str) -> list[str]:
    """Behaviour keys (knowledge ``behaviours``) that ``text`` shows, in the knowledge file's order."""
    if not text:
        return []
    found = set(behaviours_in(text))
    found.update(key for key, pattern in _voice_patterns().items() if pattern.search(text))
    order = list(knowledge.load().behaviours)
    return [key for key in order if key in found]


def companies(text: str) -> list[str]:
    """Names the sender gives itself: 【signature】 and company-like names, in order, each once."""
    names: list[str] = []
    for match in _SIGNATURE.finditer(text or ""):
        names.append(match.group(1))
    for clause in _CLAUSE.split(_SIGNATURE.sub("，", text or "")):
        match = _COMPANY.search(clause)
        if match:
            name = _LEADING.sub("", match.group("name"))
            if len(name) >= 4:
                names.append(name)
    return list(dict.fromkeys(names))


def lenders(text: str) -> list[str]:
    """Lender keys whose alias (as in the knowledge file, which the EntityRuler reads) appears."""
    kb = knowledge.load()
    low = (text or "").lower()
    found = []
    for key, lender in kb.lenders.items():
        if key == "unknown":
            continue
        if any(alias.lower() in low for alias in lender.get("aliases", []) if len(alias) >= 2):
            found.append(key)
    return found


# -- results ----------------------------------------------------------------------


@dataclass(frozen=True)
class CallRow:
    number: str | None  # normalised, when a whole valid number was read
    label: str | None  # what else the row said (a contact name, "疑似催收"), when there is no number
    status: str | None  # missed | incoming | outgoing | rejected, when shown
    count: int  # "(3)": calls grouped into this row
    clock: str | None  # "23:10" as read
    day_text: str | None  # the date header or the row's own date, as read
    occurred_at: datetime | None  # None while the day is unknown
    time_precision: str | None
    time_text: str

    @property
    def needs_date(self) -> bool:
        return self.occurred_at is None and self.clock is not None

    @property
    def proposed(self) -> bool:
        """A call from the collector (an outgoing call is the user's own)."""
        return self.status != "outgoing"


@dataclass(frozen=True)
class Message:
    occurred_at: datetime | None
    time_precision: str | None
    time_text: str
    text: str
    behaviours: tuple[str, ...]


@dataclass(frozen=True)
class Reading:
    kind: str  # call_log | messages | unknown
    text: str  # everything read, row by row
    phones: tuple[str, ...]
    times: tuple[str, ...]  # time expressions as read
    behaviours: tuple[str, ...]
    companies: tuple[str, ...]
    lenders: tuple[str, ...]
    sender: str | None = None  # the number at the top of a chat screen
    calls: tuple[CallRow, ...] = ()
    messages: tuple[Message, ...] = ()

    @property
    def entries_needing_date(self) -> int:
        return sum(1 for c in self.calls if c.proposed and c.needs_date)


# -- rows ---------------------------------------------------------------------------


def _row_text(row: list[OcrLine]) -> str:
    return " ".join(line.text for line in row).strip()


def _is_chrome(text: str) -> bool:
    words = [w for w in re.split(r"\s+", text) if w]
    return bool(words) and all(w in CHROME for w in words)


def _status(text: str) -> str | None:
    for word, status in STATUS_WORDS.items():
        if word in text:
            return status
    return None


def _strip(text: str, pieces: Iterable[str]) -> str:
    for piece in pieces:
        if piece:
            text = text.replace(piece, " ")
    return re.sub(r"\s+", " ", text).strip()


def _dash_dates(text: str) -> str:
    """"11-20 23:10" (a call log's date) → "11月20日 23:10"."""
    return _DASH_DATE.sub(lambda m: f"{m.group(1)}月{m.group(2)}日", text)


def _day_of(text: str, now: datetime):
    """The day a text names on its own (no clock), or None."""
    clean = _CLOCK.sub(" ", text)
    if re.search(r"[0-9]+\s*月|年", clean):
        clean = _WEEKDAY.sub(" ", clean)
    parsed = parse_time(clean, now)
    if parsed and parsed.ok and parsed.precision == "day":
        return parsed
    return None


def _header(text: str, now: datetime) -> str | None:
    """A row that is only a date ("今天", "11月20日 星期五", "11-20"): its date text."""
    if _CLOCK.search(text) or find_phones(text):
        return None
    text = _dash_dates(text)
    parsed = _day_of(text, now)
    if not parsed:
        return None
    rest = _strip(_WEEKDAY.sub(" ", text), [parsed.text])
    return parsed.text if len(_NOT_CJK_OR_WORD.sub("", rest)) <= 2 else None


def _call_time(text: str, header: str | None, now: datetime):
    """(occurred_at, precision, time_text, clock, day_text) for a call row."""
    text = _dash_dates(text)
    clock_match = _CLOCK.search(text)
    clock = re.sub(r"\s+", "", clock_match.group(0)).replace("：", ":") if clock_match else None
    own_day = _day_of(text, now)
    day_text = own_day.text if own_day else header
    if clock is None:
        if own_day:
            return own_day.value, "day", own_day.text, None, own_day.text
        return None, None, "", None, header
    # A part of the day before the clock ("晚上11:10") belongs to it.
    before = text[: clock_match.start()]
    part = re.search(r"(凌晨|早上|上午|中午|下午|傍晚|晚上|夜里|深夜|半夜)\s*$", before)
    clock_text = (part.group(1) if part else "") + clock
    if day_text is None:
        return None, None, clock_text, clock, None
    parsed = parse_time(f"{day_text} {clock_text}", now)
    if parsed is None or not parsed.ok or parsed.precision not in ("minute", "hour"):
        # The day and the time do not fit together (e.g. "今天 23:10" uploaded at 10:00).
        return None, None, clock_text, clock, None
    return parsed.value, parsed.precision, f"{day_text} {clock_text}", clock, day_text


def _call_rows(all_rows: list[list[OcrLine]], height: int, now: datetime) -> tuple[list[CallRow], int]:
    calls: list[CallRow] = []
    header: str | None = None
    statuses = 0
    previous_was_call = False
    for row in all_rows:
        if height and row[0].bottom < height * STATUS_BAR:
            continue
        text = _row_text(row)
        if not text or _is_chrome(text):
            previous_was_call = False
            continue
        day = _header(text, now)
        if day:
            header, previous_was_call = day, False
            continue
        phones = find_phones(_CLOCK.sub(" ", text))
        status = _status(text)
        clock = _CLOCK.search(text)
        statuses += status is not None
        if not phones and not clock and calls and previous_was_call:
            # The second line of a two-line entry ("江苏南京 移动 未接"): only a status is taken.
            if status and calls[-1].status is None:
                calls[-1] = replace(calls[-1], status=status)
            continue
        if not phones and not clock:
            previous_was_call = False
            continue
        if not phones and clock and calls and previous_was_call and calls[-1].clock is None:
            # The time on the second line of the entry above.
            occurred, precision, time_text, clock_text, day_text = _call_time(text, header, now)
            calls[-1] = replace(
                calls[-1],
                clock=clock_text,
                occurred_at=occurred,
                time_precision=precision,
                time_text=time_text,
                day_text=day_text,
                status=calls[-1].status or status,
            )
            continue
        count_match = _COUNT.search(text)
        count = max(1, min(int(count_match.group(1)), 99)) if count_match else 1
        number = phones[0].number if phones else None
        occurred, precision, time_text, clock_text, day_text = _call_time(text, header, now)
        residue = _strip(
            _WEEKDAY.sub(" ", _CLOCK.sub(" ", _dash_dates(text))),
            [p.raw for p in phones] + list(STATUS_WORDS) + [count_match.group(0) if count_match else ""]
            + [day_text or "", "凌晨", "早上", "上午", "中午", "下午", "傍晚", "晚上", "夜里"],
        )
        label = residue if (not number and _NOT_CJK_OR_WORD.sub("", residue)) else None
        if not number and not label:
            previous_was_call = False
            continue
        if not number and not status:
            # A name and a time alone could be any list; without a status it is not a call.
            previous_was_call = False
            continue
        calls.append(
            CallRow(
                number=number,
                label=label[:24] if label else None,
                status=status,
                count=count,
                clock=clock_text,
                day_text=day_text,
                occurred_at=occurred,
                time_precision=precision,
                time_text=time_text,
            )
        )
        previous_was_call = True
    return calls, statuses


def _messages(all_rows: list[list[OcrLine]], height: int, now: datetime) -> tuple[list[Message], str | None]:
    found: list[Message] = []
    sender: str | None = None
    current: dict | None = None
    pieces: list[str] = []

    def close() -> None:
        text = "".join(pieces).strip()
        if current is not None and text:
            found.append(Message(current["at"], current["precision"], current["text"], text[:MAX_MESSAGE], tuple(conduct(text))))
        elif current is None and text:
            found.append(Message(None, None, "", text[:MAX_MESSAGE], tuple(conduct(text))))

    for row in all_rows:
        if height and (row[0].bottom < height * STATUS_BAR or row[0].top > height * INPUT_BAR):
            continue
        text = _row_text(row)
        if not text or _is_chrome(text):
            continue
        if sender is None and not found and not pieces and current is None:
            phones = find_phones(text)
            if phones and len(_NOT_CJK_OR_WORD.sub("", _strip(text, [p.raw for p in phones]))) <= 4:
                sender = phones[0].number
                continue
        parsed = parse_time(_dash_dates(text), now)
        is_stamp = (
            parsed is not None
            and parsed.ok
            and len(_NOT_CJK_OR_WORD.sub("", _strip(_WEEKDAY.sub(" ", text), [parsed.text]))) <= 2
        )
        if is_stamp:
            close()
            current = {"at": parsed.value, "precision": parsed.precision, "text": parsed.text}
            pieces = []
            continue
        pieces.append(text)
    close()
    return found, sender


def read(result: OcrResult, now: datetime | None = None) -> Reading:
    """What a screenshot shows. ``now``: when the file was received (naive Beijing time)."""
    now = now or datetime.now()
    all_rows = rows(result.lines)
    body = [r for r in all_rows if not (result.height and r[0].bottom < result.height * STATUS_BAR)]
    text = "\n".join(_row_text(r) for r in body)
    flat = text.replace("\n", "")
    # Row by row: digits of two rows run together are not one number.
    phones = [p.number for r in body for p in find_phones(_CLOCK.sub(" ", _row_text(r))) if p.number]
    times = []
    for line in body:
        parsed = parse_time(_dash_dates(_row_text(line)), now)
        if parsed and parsed.text:
            times.append(parsed.text)
    calls, statuses = _call_rows(all_rows, result.height, now)
    timed = sum(1 for c in calls if c.clock or c.occurred_at)
    kind = "call_log" if len(calls) >= 2 and (statuses or timed >= 2) else "unknown"
    chat: list[Message] = []
    sender = None
    if kind != "call_log":
        calls = []
        chat, sender = _messages(all_rows, result.height, now)
        if any(m.text for m in chat):
            kind = "messages"
    if kind == "call_log":
        # Night calls and how many: the rules decide that from the times, not from words.
        behaviours: list[str] = []
    elif kind == "messages":
        seen = {key for message in chat for key in message.behaviours}
        behaviours = [key for key in knowledge.load().behaviours if key in seen]
    else:
        behaviours = conduct(flat)
    return Reading(
        kind=kind,
        text=text,
        phones=tuple(dict.fromkeys(phones)),
        times=tuple(dict.fromkeys(times)),
        behaviours=tuple(behaviours),
        companies=tuple(companies(flat)),
        lenders=tuple(lenders(flat)),
        sender=sender,
        calls=tuple(calls),
        messages=tuple(chat),
    )


def with_day(reading: Reading, day: date, now: datetime | None = None) -> Reading:
    """The user said which day the undated rows are: fill them in (nothing else changes)."""
    now = now or datetime.now()
    text = f"{day.year}年{day.month}月{day.day}日"
    calls = []
    for call in reading.calls:
        if call.needs_date:
            parsed = parse_time(f"{text} {call.clock}", now)
            if parsed and parsed.ok:
                call = replace(
                    call,
                    occurred_at=parsed.value,
                    time_precision=parsed.precision,
                    time_text=f"{text} {call.clock}",
                    day_text=text,
                )
        calls.append(call)
    return replace(reading, calls=tuple(calls))


def with_day_entries(entries: list[dict], day: date, now: datetime | None = None) -> tuple[list[dict], int]:
    """``with_day`` for proposed entries already sent to the user (plain dicts, times
    as ISO text): the undated ones with a clock get ``day``. (entries, how many got it)"""
    now = now or datetime.now()
    text = f"{day.year}年{day.month}月{day.day}日"
    filled, out = 0, []
    for entry in entries:
        clock = entry.get("clock")
        if not entry.get("occurred_at") and isinstance(clock, str) and clock:
            parsed = parse_time(f"{text} {clock}", now)
            if parsed and parsed.ok and parsed.value is not None:
                entry = {
                    **entry,
                    "occurred_at": parsed.value.isoformat(),
                    "time_precision": parsed.precision,
                    "time_text": f"{text} {clock}",
                }
                filled += 1
        out.append(entry)
    return out, filled


# -- proposals and the confirmation ---------------------------------------------------


def proposed_entries(reading: Reading) -> list[dict]:
    """Keyword arguments for ``IncidentStore.add``, one per call row or message.

    Entries whose day was not read have ``occurred_at=None``: ask the user
    (``with_day``) before logging them.
    """
    status_words = messages()["summary"]["status"]
    entries = []
    if reading.kind == "call_log":
        for call in reading.calls:
            if not call.proposed:
                continue
            description = "通话记录截图" + (f"：{status_words[call.status]}" if call.status else "")
            if call.label:
                description += f"（显示为“{call.label}”）"
            entries.append(
                {
                    "occurred_at": call.occurred_at,
                    "time_text": call.time_text,
                    "time_precision": call.time_precision,
                    "caller_number": call.number,
                    "description": description,
                    "behaviours": [],
                    "evidence": ["call_log"],
                    "attempts": call.count,
                    "clock": call.clock,  # for the day the user may still give (with_day_entries)
                }
            )
    elif reading.kind == "messages":
        for message in reading.messages:
            entries.append(
                {
                    "occurred_at": message.occurred_at,
                    "time_text": message.time_text,
                    "time_precision": message.time_precision,
                    "caller_number": reading.sender,
                    "description": message.text,
                    "behaviours": list(message.behaviours),
                    "evidence": ["screenshot"],
                    "attempts": 1,
                }
            )
    return entries


def _when(occurred: datetime | None, precision: str | None, clock: str | None = None) -> str:
    words = messages()["summary"]
    if occurred is not None:
        return when_text({"occurred_at": occurred, "time_precision": precision or "minute"})
    if clock:
        return f"（{words['unknown_date']}）{clock}"
    return words["unknown_time"]


def summary(reading: Reading, max_rows: int = 12) -> str:
    """"我从截图里读到：… 记为 3 条来电记录？" (words from ``messages.yml``)."""
    words = messages()["summary"]
    kb = knowledge.load()
    entries = proposed_entries(reading)
    lines = [words["intro"]]
    if reading.kind == "call_log":
        shown = [c for c in reading.calls if c.proposed]
        for n, call in enumerate(shown[:max_rows], 1):
            lines.append(
                words["call_row"].format(
                    n=n,
                    when=_when(call.occurred_at, call.time_precision, call.clock),
                    who=call.number or call.label or words["unknown_caller"],
                    status=f" {words['status'][call.status]}" if call.status else "",
                    times=words["times"].format(count=call.count) if call.count > 1 else "",
                )
            )
        if len(shown) > max_rows:
            lines.append(f"……（共 {len(shown)} 条）")
        outgoing = sum(1 for c in reading.calls if not c.proposed)
        if outgoing:
            lines.append(words["outgoing_skipped"].format(count=outgoing))
    elif reading.kind == "messages":
        for n, message in enumerate(reading.messages[:max_rows], 1):
            text = message.text if len(message.text) <= 60 else message.text[:58] + "……"
            lines.append(
                words["message_row"].format(
                    n=n,
                    when=_when(message.occurred_at, message.time_precision),
                    who=reading.sender or words["sender_unknown"],
                    text=text,
                )
            )
    if reading.behaviours:
        labels = [kb.behaviours[key]["label"] for key in reading.behaviours if key in kb.behaviours]
        lines.append(words["conduct"].format(labels="、".join(labels)))
    if reading.companies:
        lines.append(words["company"].format(names="、".join(reading.companies)))
    others = [number for number in reading.phones if number != reading.sender]
    if reading.kind == "messages" and others:
        lines.append(words["phones"].format(numbers="、".join(others)))
    if not entries:
        return words["nothing"]
    if reading.entries_needing_date:
        lines.append(words["needs_date"].format(count=reading.entries_needing_date))
    lines.append(words["check"])
    key = "confirm_calls" if reading.kind == "call_log" else "confirm_messages"
    lines.append(words[key].format(count=len(entries)))
    return "\n".join(lines)
