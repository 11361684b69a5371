"""The incident log: record one harassing contact at a time, show the log with
the rules it breaks, correct and delete entries.

Entries live in the action server's database (incidents/store.py), keyed by
the conversation's sender id, so they survive restarts and new sessions.
The user refers to entries by their number in the list ("第2条"), oldest
first, as ``action_show_log`` prints them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

import knowledge
from actions import incident_text
from actions.common import intent_name, known_role, latest_entities, latest_text
from actions.forms import INTERRUPTIONS as TRIAGE_INTERRUPTIONS
from actions.forms import FormValidation, _answer_text
from advisor.replies import MAX_BUBBLE
from incidents import rules
from incidents.phones import find_phones, mask_phone, normalize_phone
from incidents.store import get_store
from incidents.timeparse import SHANGHAI, parse_time

INCIDENT_SLOTS = (
    "incident_time",
    "incident_time_text",
    "incident_time_precision",
    "incident_caller",
    "incident_contacted",
    "incident_description",
    "incident_behaviours",
    "incident_attempts",
    "incident_evidence",
    "incident_retries",
)
# Not answers to the form's question: the form steps aside for the rules.
INTERRUPTIONS = TRIAGE_INTERRUPTIONS - {"thanks"}
CONTENT_WORDS = ("说了", "原话", "内容", "说要", "他说", "她说", "对方说", "骂", "威胁", "做了")


async def _in_thread(function, *args, **kwargs):
    """Store calls block for milliseconds; keep them off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


def _behaviours(tracker: Tracker) -> list[str]:
    found = [b for b in latest_entities(tracker, "behaviour") if b in knowledge.load().behaviours]
    if intent_name(tracker) == "safety_threat" and "threats" not in found:
        found.append("threats")
    return list(dict.fromkeys(found))


def _asked(tracker: Tracker, slot: str) -> bool:
    return tracker.get_slot("requested_slot") == slot


def _time_slots(text: str, dispatcher: CollectingDispatcher, asked: bool) -> dict[str, Any] | None:
    """Slots for a time found in ``text``; None when there is none to take.

    A time that is still to come, or "十点" without morning/evening, is asked
    back rather than guessed: a night call must not be logged as a morning one.
    """
    parsed = parse_time(text)
    if parsed is None or (not asked and (not parsed.ok or parsed.ambiguous)):
        return None
    if parsed.error == "future":
        dispatcher.utter_message(text=f"“{parsed.text}”还没到呢。是不是说的昨天或更早？请再说一下时间。")
        return {"incident_time": None}
    if not parsed.ok:
        dispatcher.utter_message(text=f"“{parsed.text}”这个日期好像不存在，请再说一下时间。")
        return {"incident_time": None}
    if parsed.ambiguous and parsed.value is not None:
        day = f"{parsed.value.month}月{parsed.value.day}日"
        hour = parsed.value.hour % 12 or 12
        minute = f"{parsed.value.minute:02d}"
        dispatcher.utter_message(
            text=f"是上午还是晚上的 {hour} 点？",
            buttons=[
                {"title": f"上午 {hour}:{minute}", "payload": f"{day}上午{hour}点{minute}分"},
                {"title": f"晚上 {hour}:{minute}", "payload": f"{day}晚上{hour}点{minute}分"},
            ],
        )
        return {"incident_time": None}
    return {
        "incident_time": parsed.value.isoformat(),
        "incident_time_text": parsed.text,
        "incident_time_precision": parsed.precision,
    }


def _slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in events if e.get("event") == "slot" and e.get("name")}


def _understood(values: dict[str, Any]) -> str:
    """What the opening message told us, read back so a misreading is caught
    at once: 我先记下了：12月3日（周四）22:30（深夜）；打给：爸爸；辱骂。"""
    kb = knowledge.load()
    parts = []
    if values.get("incident_time"):
        when = datetime.fromisoformat(values["incident_time"])
        precision = values.get("incident_time_precision")
        night = precision not in ("day", "part_of_day") and (when.hour >= 22 or when.hour < 8)
        parts.append(_time_echo(when, precision) + ("（深夜）" if night else ""))
    if values.get("incident_caller") and values["incident_caller"] != "unknown":
        parts.append("号码 " + mask_phone(values["incident_caller"]))
    if values.get("incident_contacted"):
        parts.append(f"打给：{values['incident_contacted']}")
    labels = [kb.behaviours[b]["label"] for b in values.get("incident_behaviours") or [] if b in kb.behaviours]
    parts.extend(labels)
    return "我先记下了：" + "；".join(parts) + "。" if parts else ""


class ValidateIncidentForm(FormValidation):
    """Fills the entry being recorded from whatever the user already said,
    reads back what the opening message told, and takes a correction of the
    time or number while the entry is still open ("不对，是下午四点")."""

    step_aside_for = frozenset(INTERRUPTIONS)
    retries_slot = "incident_retries"

    def name(self) -> str:
        return "validate_incident_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        requested = tracker.get_slot("requested_slot")
        fix = incident_text.correction(latest_text(tracker)) if requested else None
        if fix:
            corrected = self._correct(dispatcher, tracker, fix)
            if corrected:
                return [*corrected, SlotSet("requested_slot", requested)]
        events = await super().run(dispatcher, tracker, domain)
        if requested is None:
            echo = _understood(_slot_values(events))
            if echo:
                dispatcher.utter_message(text=echo)
        return events

    def _correct(self, dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> list[dict[str, Any]]:
        """Slot events for a corrected time or number of the open entry (none if neither is in ``text``)."""
        if tracker.get_slot("incident_time"):
            parsed = parse_time(text)
            if parsed is not None and parsed.ok and not parsed.ambiguous and parsed.value is not None:
                dispatcher.utter_message(text=f"好，时间改成 {_time_echo(parsed.value, parsed.precision)}。")
                return [
                    SlotSet("incident_time", parsed.value.isoformat()),
                    SlotSet("incident_time_text", parsed.text),
                    SlotSet("incident_time_precision", parsed.precision),
                ]
        phones = [p for p in find_phones(text) if p.valid]
        if tracker.get_slot("incident_caller") and phones:
            dispatcher.utter_message(text=f"好，号码改成 {mask_phone(phones[0].number)}。")
            return [SlotSet("incident_caller", phones[0].number)]
        return []

    async def extract_incident_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_time"):
            return {}
        asked = _asked(tracker, "incident_time")
        found = _time_slots(_answer_text(tracker), dispatcher, asked)
        if found is not None:
            return found
        if not asked:
            return {}
        # Twice not understood: the day is today, the hour unknown; nothing the user
        # said is lost, and the entry can be corrected later.
        today = datetime.now(SHANGHAI).replace(tzinfo=None, hour=12, minute=0, second=0, microsecond=0)
        fallback = {
            "incident_time": today.isoformat(),
            "incident_time_text": "时间不详",
            "incident_time_precision": "day",
        }
        missed = self._missed(dispatcher, tracker, "incident_time", fallback=fallback["incident_time"])
        if missed.get("incident_time"):
            missed.update(fallback)
        return missed

    async def extract_incident_caller(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_caller"):
            return {}
        text = _answer_text(tracker)
        asked = _asked(tracker, "incident_caller")
        phones = [p for p in find_phones(text) if p.valid]
        if phones:
            return {"incident_caller": phones[0].number}
        if not asked:
            return {}
        if incident_text.is_skip(text) or any(
            w in text for w in ("没显示", "隐藏", "未知", "私人号码", "没号码")
        ):
            return {"incident_caller": "unknown"}
        tried = normalize_phone(text)
        if tried.reason_text:
            dispatcher.utter_message(text=tried.reason_text)
        return self._missed(dispatcher, tracker, "incident_caller", fallback="unknown")

    async def extract_incident_contacted(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_contacted"):
            return {}
        asked = _asked(tracker, "incident_contacted")
        text = _answer_text(tracker)
        who = incident_text.contacted_person(text, asked)
        if who:
            return {"incident_contacted": who}
        if asked and incident_text.is_skip(text):
            return {"incident_contacted": "不清楚"}
        return self._missed(dispatcher, tracker, "incident_contacted", fallback="不清楚") if asked else {}

    async def extract_incident_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_description") is not None:
            return {}
        text = incident_text.description(latest_text(tracker))
        behaviours = _behaviours(tracker)
        found: dict[str, Any] = {}
        count = incident_text.attempts(text)
        if count and not tracker.get_slot("incident_attempts"):
            found["incident_attempts"] = count
        if _asked(tracker, "incident_description"):
            description = "" if incident_text.is_skip(text) else text
            return {**found, "incident_description": description, "incident_behaviours": behaviours}
        # The message that opened the form describes the call when it names what
        # was done ("骂人", "威胁") or what was said ("说再不还…") — then it is not asked again.
        telling = behaviours or "说" in text or len(text) >= 30
        if telling and tracker.get_slot("requested_slot") is None:
            return {**found, "incident_description": text, "incident_behaviours": behaviours}
        return found

    async def extract_incident_evidence(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_evidence") is not None:
            return {}
        asked = _asked(tracker, "incident_evidence")
        found = incident_text.evidence(_answer_text(tracker), asked)
        if found is not None:
            return {"incident_evidence": found}
        return self._missed(dispatcher, tracker, "incident_evidence", fallback=[]) if asked else {}

    def moving_on(self, slot: str) -> str:
        moving_on = "时间先记成今天、具体几点不详" if slot == "incident_time" else "这一项先空着"
        return f"没关系，{moving_on}，以后可以再改。"


def _incident_line(incident: Any, role: str | None) -> str:
    kb = knowledge.load()
    return rules.timeline([incident], kb, mask=True, author_relation=role)[0]


def _time_echo(when: datetime, precision: str | None) -> str:
    """How the bot read the time, so the user can catch a misunderstanding."""
    week = "一二三四五六日"[when.weekday()]
    day = f"{when.month}月{when.day}日（周{week}）"
    if precision in ("day", "part_of_day"):
        return day
    return f"{day}{when.hour:02d}:{when.minute:02d}"


class ActionSaveIncident(Action):
    """Store the entry the form collected and read it back."""

    def name(self) -> str:
        return "action_save_incident"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        reset = [SlotSet(slot, None) for slot in INCIDENT_SLOTS]
        raw_time = tracker.get_slot("incident_time")
        try:
            when = datetime.fromisoformat(raw_time)
        except (TypeError, ValueError):
            dispatcher.utter_message(text="抱歉，这次的时间没有记上。请再说一次“记录一次骚扰”。")
            return reset
        caller = tracker.get_slot("incident_caller")
        description = tracker.get_slot("incident_description") or ""
        behaviours = list(tracker.get_slot("incident_behaviours") or [])
        store = get_store()
        incident = await _in_thread(
            store.add,
            tracker.sender_id,
            occurred_at=when,
            time_text=tracker.get_slot("incident_time_text") or "",
            time_precision=tracker.get_slot("incident_time_precision"),
            caller_number=None if caller in (None, "unknown") else caller,
            contacted_person=tracker.get_slot("incident_contacted"),
            description=description,
            behaviours=behaviours,
            evidence=tracker.get_slot("incident_evidence") or [],
            attempts=int(tracker.get_slot("incident_attempts") or 1),
        )
        entries = await _in_thread(store.list, tracker.sender_id)
        number = next((i for i, e in enumerate(entries, 1) if e.id == incident.id), len(entries))
        role = known_role(tracker)
        dispatcher.utter_message(
            text=f"记下了，第 {number} 条：\n{_incident_line(incident, role)}\n"
            f"时间按 {_time_echo(when, incident.time_precision)} 记的。不对的话回复“改第{number}条”。"
        )
        mine = [b for b in rules.check(entries, author_relation=role) if incident.id in b.incident_ids]
        if mine:
            dispatcher.utter_message(
                text="这一条涉及：" + "；".join(f"{b.label}（{b.rule}）" for b in mine[:3]) + "。"
            )
        if "threats" in behaviours or "visits" in behaviours:
            dispatcher.utter_message(response="utter_threat_in_log")
        if not incident.evidence:
            dispatcher.utter_message(text="下次接到电话，记得录音、截图，证据越全越好。")
        dispatcher.utter_message(
            text="接下来？",
            buttons=[
                {"title": "再记一条", "payload": "再记一条来电"},
                {"title": "查看全部记录", "payload": "查看我的记录"},
                {"title": "写投诉信", "payload": "帮我写投诉信"},
            ],
        )
        return reset


def _bubbles(lines: list[str], head: str = "") -> list[str]:
    """Lines packed into bubbles of at most MAX_BUBBLE characters."""
    bubbles: list[str] = []
    current = head
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MAX_BUBBLE and current:
            bubbles.append(current)
            current = line
        else:
            current = candidate
    if current:
        bubbles.append(current)
    return bubbles


class ActionShowLog(Action):
    """The dated timeline, then the rules the log shows were broken."""

    def name(self) -> str:
        return "action_show_log"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        entries = await _in_thread(get_store().list, tracker.sender_id)
        if not entries:
            dispatcher.utter_message(response="utter_no_incidents")
            return []
        kb = knowledge.load()
        role = known_role(tracker)
        lines = rules.timeline(entries, kb, mask=True, author_relation=role)
        numbered = [f"{n}. {line}" for n, line in enumerate(lines, 1)]
        for bubble in _bubbles(numbered, head=f"您一共记了 {len(entries)} 条："):
            dispatcher.utter_message(text=bubble)
        breaches = rules.check(entries, kb, author_relation=role)
        if breaches:
            flagged = [f"· {b.summary(mask=True)}（{b.rule}）" for b in breaches]
            for bubble in _bubbles(flagged, head="从记录看，这些做法不合规："):
                dispatcher.utter_message(text=bubble)
        else:
            dispatcher.utter_message(
                text="从目前的记录看，还看不出明确违规。继续记录，次数和时间会说明问题。"
            )
        dispatcher.utter_message(
            text="可以接着：",
            buttons=[
                {"title": "写投诉信", "payload": "帮我写投诉信"},
                {"title": "改一条", "payload": "我要改一条记录"},
                {"title": "删一条", "payload": "我要删除一条记录"},
                {"title": "再记一条", "payload": "再记一条来电"},
            ],
        )
        return []


class _EntryRefMixin:
    """Reads which entry ("第2条", "最后一条") the user means."""

    async def extract_incident_ref(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_ref"):
            return {}
        count = await _in_thread(get_store().count, tracker.sender_id)
        asked = _asked(tracker, "incident_ref")
        ref = incident_text.entry_ref(_answer_text(tracker), count)
        if ref is None and count == 1:
            ref = 1
        if ref:
            return {"incident_ref": ref}
        if asked and count:
            dispatcher.utter_message(text=f"您的记录是第 1 到第 {count} 条，请回复其中一个编号。")
        return {}


async def _nth(tracker: Tracker) -> Any | None:
    entries = await _in_thread(get_store().list, tracker.sender_id)
    ref = int(tracker.get_slot("incident_ref") or 0)
    return entries[ref - 1] if 1 <= ref <= len(entries) else None


class ValidateIncidentEditForm(_EntryRefMixin, FormValidation):
    def name(self) -> str:
        return "validate_incident_edit_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        if await _in_thread(get_store().count, tracker.sender_id) == 0:
            return []
        return domain_slots

    async def extract_correction_value(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("correction_value"):
            return {}
        text = _answer_text(tracker)
        if _asked(tracker, "correction_value"):
            return {"correction_value": text}
        # "第2条的时间应该是前天晚上九点" carries the new value already.
        if tracker.get_slot("requested_slot") is None and _changes(text, tracker):
            return {"correction_value": text}
        return {}


def _changes(text: str, tracker: Tracker) -> dict[str, Any]:
    """The fields a correction message changes, as store.update arguments."""
    changes: dict[str, Any] = {}
    parsed = parse_time(text)
    if parsed and parsed.ok and not parsed.ambiguous:
        changes.update(occurred_at=parsed.value, time_text=parsed.text, time_precision=parsed.precision)
    phones = [p for p in find_phones(text) if p.valid]
    if phones:
        changes["caller_number"] = phones[0].number
    who = incident_text.contacted_person(text, asked=False)
    if who is None and any(w in text for w in ("打给的是", "接电话的是", "是打给")):
        who = incident_text.contacted_person(text, asked=True)
    if who:
        changes["contacted_person"] = who
    found = incident_text.evidence(text, asked=False)
    if found:
        changes["evidence"] = found
    count = incident_text.attempts(text)
    if count:
        changes["attempts"] = count
    # The description is replaced only when the user says it is what changes;
    # "时间是晚上十一点" names a time, not what the collector said.
    if any(w in text for w in CONTENT_WORDS):
        changes["description"] = incident_text.description(text)
        changes["behaviours"] = [b for b in _behaviours(tracker) if b != "night_calls"]
    return changes


class ActionApplyCorrection(Action):
    def name(self) -> str:
        return "action_apply_correction"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        reset = [SlotSet("incident_ref", None), SlotSet("correction_value", None)]
        incident = await _nth(tracker)
        if incident is None:
            dispatcher.utter_message(response="utter_no_incidents")
            return reset
        text = tracker.get_slot("correction_value") or ""
        changes = _changes(text, tracker)
        if not changes:
            # Nothing recognisable: it is the new description, in the user's words.
            changes = {"description": incident_text.description(text), "behaviours": _behaviours(tracker)}
        updated = await _in_thread(get_store().update, tracker.sender_id, incident.id, **changes)
        ref = int(tracker.get_slot("incident_ref"))
        dispatcher.utter_message(
            text=f"改好了，第 {ref} 条现在是：\n{_incident_line(updated, known_role(tracker))}"
        )
        return reset


class ValidateIncidentDeleteForm(_EntryRefMixin, FormValidation):
    def name(self) -> str:
        return "validate_incident_delete_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        if await _in_thread(get_store().count, tracker.sender_id) == 0:
            return []
        return domain_slots

    async def extract_delete_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not _asked(tracker, "delete_confirmed"):
            return {}
        # Anything but a clear yes keeps the entry.
        return {"delete_confirmed": bool(confirmation(tracker))}


def confirmation(tracker: Tracker) -> bool | None:
    """Yes / no to a confirmation question, from the button, the intent or the words."""
    text = _answer_text(tracker)
    if any(w in text for w in ("不删", "不要", "先不", "取消", "算了", "不用", "别删", "不是", "不对")):
        return False
    intent = intent_name(tracker)
    if intent == "deny":
        return False
    if intent == "affirm" or any(
        w in text for w in ("确定", "确认", "删吧", "删除", "是的", "对", "好的", "嗯")
    ):
        return True
    return None


class ActionAskDeleteConfirmed(Action):
    """Shows the entry before deleting it."""

    def name(self) -> str:
        return "action_ask_delete_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        incident = await _nth(tracker)
        line = _incident_line(incident, known_role(tracker)) if incident else ""
        dispatcher.utter_message(
            text=f"确定删除第 {int(tracker.get_slot('incident_ref') or 0)} 条吗？\n{line}",
            buttons=[
                {"title": "确定删除", "payload": "确定删除"},
                {"title": "不删了", "payload": "不删了"},
            ],
        )
        return []


class ActionDeleteIncident(Action):
    def name(self) -> str:
        return "action_delete_incident"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        reset = [SlotSet("incident_ref", None), SlotSet("delete_confirmed", None)]
        incident = await _nth(tracker)
        if incident is None:
            dispatcher.utter_message(response="utter_no_incidents")
            return reset
        if not tracker.get_slot("delete_confirmed"):
            dispatcher.utter_message(text="好的，没有删除。")
            return reset
        await _in_thread(get_store().delete, tracker.sender_id, incident.id)
        left = await _in_thread(get_store().count, tracker.sender_id)
        dispatcher.utter_message(text=f"已删除。现在还有 {left} 条记录，编号已按时间重新排好。")
        return reset
