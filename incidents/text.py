"""Reading an incident's facts out of what the user typed.

Pure functions, shared by the incident, correction and letter actions: who
was called, how many times, what evidence exists, which entry a reference
names, what a correction changes. The time and the phone number have their
own modules (incidents/timeparse.py, incidents/phones.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import knowledge
from incidents.phones import find_phones, mask_phone
from incidents.timeparse import cn_int, parse_time
from nlu.text import normalize

SKIP_WORDS = (
    "跳过",
    "不知道",
    "不清楚",
    "不记得",
    "忘了",
    "不想说",
    "不方便",
    "没有",
    "不写",
    "算了",
    "不确定",
)
SELF_PATTERNS = (
    "打给我本人",
    "打给我自己",
    "打给我",
    "打我电话",
    "打我手机",
    "找我",
    "我本人",
    "我自己",
    "给我打",
    "是我",
)
# Verbs that introduce the person who was called: "打给我妈", "打到我单位".
_CONTACT = re.compile(
    r"(?:打给|打到|打电话给|打电话到|联系了?|找了?|骚扰了?|问了?|发短信给|短信发给|发给)(?:了)?(?:我的?|我们)?"
    r"(?P<who>[\u4e00-\u9fff]{1,5})"
)
_ATTEMPTS = re.compile(
    r"(?P<n>\d{1,3}|[一二两三四五六七八九十百]{1,4})\s*(?:多)?(?:次|个电话|通电话|通|遍|回)"
)
_REF = re.compile(r"第\s*(?P<n>\d{1,3}|[一二两三四五六七八九十]{1,3})\s*[条个项号]?|(?P<m>\d{1,3})\s*条")
_LAST_WORDS = ("最后一条", "刚才那条", "刚记的", "上一条", "最新的", "刚刚那条", "这一条", "这条")

EVIDENCE_WORDS = {
    "recording": ("录音", "录了音", "录下来", "录下了", "录了"),
    "screenshot": ("截图", "截屏", "截了图", "拍照", "照片", "短信", "聊天记录"),
    "call_log": ("通话记录", "通话详单", "详单", "来电记录", "通话清单"),
}
NO_EVIDENCE = ("都没有", "没有", "没留", "没录", "什么都没", "啥都没", "无")
_NEGATION = re.compile(r"(?:没有?|未|忘了|没来得及)\S{0,2}$")


# "帮我记一下：" and the like are requests to the bot, not what the collector did.
_REQUEST_PREFIX = re.compile(
    r"^(?:帮我|帮忙|麻烦|请)?(?:再)?(?:记录|登记|记)(?:一下|一条|一次|一笔|下)?(?:骚扰|来电|催收电话)?[:：,，。\s]*"
)


_FULL_WIDTH = {",": "，", "!": "！", "?": "？", ":": "：", ";": "；", "(": "（", ")": "）"}
_CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


def chinese_punctuation(text: str) -> str:
    """Undo NFKC for the user's words shown back (log entries, letters).

    The NLU normaliser turns "，" into ","; in a Chinese complaint letter the
    ASCII mark looks wrong. A mark next to a Chinese character becomes
    full-width again; "22:40" and "1,000" are left alone.
    """
    out = list(text)
    for i, ch in enumerate(text):
        if ch in _FULL_WIDTH:
            before, after = text[i - 1 : i], text[i + 1 : i + 2]
            if _CJK.match(before) or _CJK.match(after):
                out[i] = _FULL_WIDTH[ch]
    return "".join(out)


def description(text: str) -> str:
    """The user's account of the call, without the request to record it."""
    told = _REQUEST_PREFIX.sub("", text.strip(), count=1).strip() or text.strip()
    return chinese_punctuation(told)


def is_skip(text: str) -> bool:
    """A short "跳过" / "不知道" / "没有": the user skips the question."""
    text = normalize(text)
    return any(word in text for word in SKIP_WORDS) and len(text) <= 12


# The caller's number was not shown.
_HIDDEN_NUMBER = ("没显示", "隐藏", "未知", "私人号码", "没号码")


def no_number(text: str) -> bool:
    """The answer says the number is unknown or was not shown."""
    return is_skip(text) or any(word in text for word in _HIDDEN_NUMBER)


def contacted_person(text: str, asked: bool) -> str | None:
    """The user's word for the person who was contacted ("母亲", "同事", "我").

    Outside the question, only a person named after a verb of calling counts
    ("催收打给我妈"), so "我儿子欠钱" does not make the son the one called.
    """
    text = normalize(text)
    aliases = _aliases()
    for match in _CONTACT.finditer(text):
        who = match["who"]
        for size in range(len(who), 0, -1):
            if who[:size] in aliases:
                return _display(who[:size])
    if any(p in text for p in SELF_PATTERNS):
        return "我"
    if asked:
        # The longest alias the answer holds is the user's own word for them.
        found = [alias for alias in aliases if alias in text]
        if found:
            return _display(max(found, key=len))
        if text in ("我", "本人", "自己"):
            return "我"
    return None


# Short words read better in a log line as the relation they stand for.
_DISPLAY = {
    "妈": "母亲",
    "我妈": "母亲",
    "老妈": "母亲",
    "娘": "母亲",
    "妈妈": "母亲",
    "爸": "父亲",
    "我爸": "父亲",
    "老爸": "父亲",
    "爹": "父亲",
    "爸爸": "父亲",
    "我哥": "哥哥",
    "我姐": "姐姐",
    "我弟": "弟弟",
    "我妹": "妹妹",
    "单位": "同事",
    "公司同事": "同事",
    "联系人": "紧急联系人",
    "家长": "父母",
}


def _display(word: str) -> str:
    return _DISPLAY.get(word, word)


def _aliases() -> set[str]:
    kb = knowledge.load()
    # Words that name the borrower or a debt, not a person one calls.
    skip = {"担保", "遗产", "去世", "过世", "人走了", "借款人", "我借的", "我欠的", "是我借的", "我自己借的"}
    return {
        alias
        for key, rel in kb.relations.items()
        if key != "borrower"
        for alias in rel.get("aliases", [])
        if alias not in skip
    }


def attempts(text: str) -> int | None:
    """How many calls one entry stands for ("一天打了8次" → 8)."""
    match = _ATTEMPTS.search(normalize(text))
    if not match:
        return None
    raw = match["n"]
    value = int(raw) if raw.isdigit() else cn_int(raw)
    return value if value and 1 <= value <= 999 else None


def evidence(text: str, asked: bool) -> list[str] | None:
    """Evidence keys the text mentions; [] for "none"; None when it says nothing."""
    text = normalize(text)
    found = []
    for key, words in EVIDENCE_WORDS.items():
        for word in words:
            at = text.find(word)
            if at >= 0 and not _NEGATION.search(text[max(0, at - 4) : at]):
                found.append(key)
                break
    if found:
        return found
    if asked and any(word in text for word in NO_EVIDENCE):
        return []
    return None


def entry_ref(text: str, count: int) -> int | None:
    """Which entry (1-based, in the order the list shows) the text names."""
    text = normalize(text)
    if count and any(word in text for word in _LAST_WORDS):
        return count
    match = _REF.search(text)
    raw = (match["n"] or match["m"]) if match else None
    if raw is None and text.strip().isdigit():
        raw = text.strip()
    if raw is None:
        return None
    value = int(raw) if raw.isdigit() else cn_int(raw)
    return value if value and 1 <= value <= count else None


# "不对，是下午四点", "记错了，应该是139…": a correction of the entry being recorded.
_CORRECTION = re.compile(r"不对|记错|错了|说错|搞错|改成|改为|应该是|其实是|更正|更改")


def correction(text: str | None) -> str | None:
    """The text of a correction (the part after the correction word), or None."""
    match = _CORRECTION.search(text or "")
    return text[match.start():] if match else None


# Words that say what the collector said or did is what changes.
CONTENT_WORDS = ("说了", "原话", "内容", "说要", "他说", "她说", "对方说", "骂", "威胁", "做了")
# "打给的是我同事": the person called is what changes.
_CONTACTED_CHANGE = ("打给的是", "接电话的是", "是打给")


def changes(text: str, behaviours: Sequence[str] = ()) -> dict[str, Any]:
    """The fields a correction message changes, as ``IncidentStore.update``
    arguments; ``behaviours`` are the ones the message reports."""
    found: dict[str, Any] = {}
    parsed = parse_time(text)
    if parsed and parsed.ok and not parsed.ambiguous:
        found.update(occurred_at=parsed.value, time_text=parsed.text, time_precision=parsed.precision)
    phones = [p for p in find_phones(text) if p.valid]
    if phones:
        found["caller_number"] = phones[0].number
    # "打给的是我同事" names the person after the marker ("是我" alone would read as the user).
    marker = next((m for m in _CONTACTED_CHANGE if m in text), None)
    who = contacted_person(text.split(marker, 1)[1], asked=True) if marker else contacted_person(text, asked=False)
    if who:
        found["contacted_person"] = who
    kept = evidence(text, asked=False)
    if kept:
        found["evidence"] = kept
    count = attempts(text)
    if count:
        found["attempts"] = count
    # The description is replaced only when the user says it is what changes;
    # "时间是晚上十一点" names a time, not what the collector said.
    if any(w in text for w in CONTENT_WORDS):
        found["description"] = description(text)
        found["behaviours"] = [b for b in behaviours if b != "night_calls"]
    return found


def time_echo(when: datetime, precision: str | None) -> str:
    """How the bot read the time, so the user can catch a misunderstanding:
    "12月3日（周四）22:30", or only the day when the hour was not said."""
    week = "一二三四五六日"[when.weekday()]
    day = f"{when.month}月{when.day}日（周{week}）"
    if precision in ("day", "part_of_day"):
        return day
    return f"{day}{when.hour:02d}:{when.minute:02d}"


def understood(values: dict[str, Any], kb: knowledge.Knowledge | None = None) -> str:
    """What the message that opened an entry told, read back so a misreading
    is caught at once: "12月3日（周四）22:30（深夜）；打给：爸爸；辱骂"; "" for nothing."""
    kb = kb or knowledge.load()
    parts = []
    if values.get("incident_time"):
        when = datetime.fromisoformat(values["incident_time"])
        precision = values.get("incident_time_precision")
        night = precision not in ("day", "part_of_day") and (when.hour >= 22 or when.hour < 8)
        parts.append(time_echo(when, precision) + ("（深夜）" if night else ""))
    if values.get("incident_caller") and values["incident_caller"] != "unknown":
        parts.append("号码 " + mask_phone(values["incident_caller"]))
    if values.get("incident_contacted"):
        parts.append(f"打给：{values['incident_contacted']}")
    parts.extend(kb.behaviours[b]["label"] for b in values.get("incident_behaviours") or [] if b in kb.behaviours)
    return "；".join(parts)
