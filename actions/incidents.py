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
from actions.common import intent_name, known_role, latest_entities, latest_text, say
from actions.evidence import WECHAT, chart_link, latest_channel
from actions.form_kit import INTERRUPTIONS, FormKit, answer_text, confirmation
from advisor.replies import MAX_BUBBLE
from incidents import rules
from incidents import text as incident_text
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
    "incident_form_retries",
)


CHART_ALT = "来电规律图"  # what the web chat says for the chart where it cannot show it


async def _in_thread(function, *args, **kwargs):
    """Store calls block for milliseconds; keep them off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


def _behaviours(tracker: Tracker) -> list[str]:
    found = [b for b in latest_entities(tracker, "behaviour") if b in knowledge.load().behaviours]
    if intent_name(tracker) == "safety_threat" and "threats" not in found:
        found.append("threats")
    return list(dict.fromkeys(found))


def _time_slots(text: str, dispatcher: CollectingDispatcher, asked: bool) -> dict[str, Any] | None:
    """Slots for a time found in ``text``; None when there is none to take.

    A time that is still to come, or "十点" without morning/evening, is asked
    back rather than guessed: a night call must not be logged as a morning one.
    """
    parsed = parse_time(text)
    if parsed is None or (not asked and (not parsed.ok or parsed.ambiguous)):
        return None
    if parsed.error == "future":
        dispatcher.utter_message(response="utter_incident_time_future", time_text=parsed.text)
        return {"incident_time": None}
    if not parsed.ok:
        dispatcher.utter_message(response="utter_incident_time_impossible", time_text=parsed.text)
        return {"incident_time": None}
    if parsed.ambiguous and parsed.value is not None:
        dispatcher.utter_message(
            response="utter_ask_morning_or_evening",
            day=f"{parsed.value.month}月{parsed.value.day}日",
            hour=parsed.value.hour % 12 or 12,
            minute=f"{parsed.value.minute:02d}",
        )
        return {"incident_time": None}
    return {
        "incident_time": parsed.value.isoformat(),
        "incident_time_text": parsed.text,
        "incident_time_precision": parsed.precision,
    }


def _slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in events if e.get("event") == "slot" and e.get("name")}


class ValidateIncidentForm(FormKit):
    """Fills the entry being recorded from whatever the user already said,
    reads back what the opening message told, and takes a correction of the
    time or number while the entry is still open ("不对，是下午四点")."""

    # Not answers to the form's question: the form steps aside for the rules.
    # A log request while logging is more about the same call (the form takes it).
    step_aside_for = INTERRUPTIONS - {"thanks", "log_incident"}

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
            echo = incident_text.understood(_slot_values(events))
            if echo:
                dispatcher.utter_message(response="utter_incident_understood", understood=echo)
        return events

    def _correct(self, dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> list[dict[str, Any]]:
        """Slot events for a corrected time or number of the open entry (none if neither is in ``text``)."""
        if tracker.get_slot("incident_time"):
            parsed = parse_time(text)
            if parsed is not None and parsed.ok and not parsed.ambiguous and parsed.value is not None:
                dispatcher.utter_message(
                    response="utter_incident_time_changed",
                    time=incident_text.time_echo(parsed.value, parsed.precision),
                )
                return [
                    SlotSet("incident_time", parsed.value.isoformat()),
                    SlotSet("incident_time_text", parsed.text),
                    SlotSet("incident_time_precision", parsed.precision),
                ]
        phones = [p for p in find_phones(text) if p.valid]
        if tracker.get_slot("incident_caller") and phones:
            dispatcher.utter_message(
                response="utter_incident_caller_changed", number=mask_phone(phones[0].number)
            )
            return [SlotSet("incident_caller", phones[0].number)]
        return []

    async def extract_incident_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_time"):
            return {}
        asked = self.asked(tracker, "incident_time")
        found = _time_slots(answer_text(tracker), dispatcher, asked)
        if found is not None:
            return found
        if not asked:
            return {}
        # Twice not understood: the day is today, the hour unknown; nothing the user
        # said is lost, and the entry can be corrected later.
        today = datetime.now(SHANGHAI).replace(tzinfo=None, hour=12, minute=0, second=0, microsecond=0)
        return self.missed(
            dispatcher,
            tracker,
            domain,
            "incident_time",
            fallback=today.isoformat(),
            fallback_slots={"incident_time_text": "时间不详", "incident_time_precision": "day"},
        )

    async def extract_incident_caller(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_caller"):
            return {}
        text = answer_text(tracker)
        asked = self.asked(tracker, "incident_caller")
        phones = [p for p in find_phones(text) if p.valid]
        if phones:
            return {"incident_caller": phones[0].number}
        if not asked:
            return {}
        if incident_text.no_number(text):
            return {"incident_caller": "unknown"}
        tried = normalize_phone(text)
        if tried.reason_text:
            dispatcher.utter_message(text=tried.reason_text)
        return self.missed(dispatcher, tracker, domain, "incident_caller", fallback="unknown")

    async def extract_incident_contacted(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_contacted"):
            return {}
        asked = self.asked(tracker, "incident_contacted")
        text = answer_text(tracker)
        who = incident_text.contacted_person(text, asked)
        if who:
            return {"incident_contacted": who}
        if asked and incident_text.is_skip(text):
            return {"incident_contacted": "不清楚"}
        return (
            self.missed(dispatcher, tracker, domain, "incident_contacted", fallback="不清楚") if asked else {}
        )

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
        if self.asked(tracker, "incident_description"):
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
        asked = self.asked(tracker, "incident_evidence")
        found = incident_text.evidence(answer_text(tracker), asked)
        if found is not None:
            return {"incident_evidence": found}
        return self.missed(dispatcher, tracker, domain, "incident_evidence", fallback=[]) if asked else {}


def _incident_line(incident: Any, role: str | None) -> str:
    kb = knowledge.load()
    return rules.timeline([incident], kb, mask=True, author_relation=role)[0]


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
            dispatcher.utter_message(response="utter_incident_not_saved")
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
            response="utter_incident_saved",
            number=number,
            line=_incident_line(incident, role),
            time=incident_text.time_echo(when, incident.time_precision),
        )
        mine = [b for b in rules.check(entries, author_relation=role) if incident.id in b.incident_ids]
        if mine:
            breaches = "；".join(f"{b.label}（{b.rule}）" for b in mine[:3])
            dispatcher.utter_message(response="utter_incident_breaches", breaches=breaches)
        if "threats" in behaviours or "visits" in behaviours:
            dispatcher.utter_message(response="utter_threat_in_log")
        if not incident.evidence:
            dispatcher.utter_message(response="utter_keep_evidence_next_time")
        dispatcher.utter_message(response="utter_after_incident")
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
    """The dated timeline, then the rules the log shows were broken; in the web chat
    also a chart of the calls (a signed link to /webhooks/evidence/chart/<token>)."""

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
        for bubble in _bubbles(numbered, head=say(domain, "utter_log_head", count=len(entries))):
            dispatcher.utter_message(text=bubble)
        breaches = rules.check(entries, kb, author_relation=role)
        if breaches:
            flagged = [f"· {b.summary(mask=True)}（{b.rule}）" for b in breaches]
            for bubble in _bubbles(flagged, head=say(domain, "utter_log_breaches_head")):
                dispatcher.utter_message(text=bubble)
        else:
            dispatcher.utter_message(response="utter_log_no_breach")
        if latest_channel(tracker) != WECHAT:
            # The web chat shows this as a picture; WeChat texts cannot carry one.
            dispatcher.utter_message(
                json_message={"type": "chart", "url": chart_link(tracker.sender_id), "alt": CHART_ALT}
            )
        dispatcher.utter_message(response="utter_after_log")
        return []


class _EntryRefMixin:
    """Reads which entry ("第2条", "最后一条") the user means."""

    async def extract_incident_ref(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("incident_ref"):
            return {}
        count = await _in_thread(get_store().count, tracker.sender_id)
        asked = FormKit.asked(tracker, "incident_ref")
        ref = incident_text.entry_ref(answer_text(tracker), count)
        if ref is None and count == 1:
            ref = 1
        if ref:
            return {"incident_ref": ref}
        if asked and count:
            dispatcher.utter_message(response="utter_explain_incident_ref", count=count)
        return {}


async def _nth(tracker: Tracker) -> Any | None:
    entries = await _in_thread(get_store().list, tracker.sender_id)
    ref = int(tracker.get_slot("incident_ref") or 0)
    return entries[ref - 1] if 1 <= ref <= len(entries) else None


class ValidateIncidentEditForm(_EntryRefMixin, FormKit):
    """Which entry to change, and the new value ("第2条的时间应该是前天晚上九点")."""

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
        text = answer_text(tracker)
        if self.asked(tracker, "correction_value"):
            return {"correction_value": text}
        # "第2条的时间应该是前天晚上九点" carries the new value already.
        if tracker.get_slot("requested_slot") is None and incident_text.changes(text, _behaviours(tracker)):
            return {"correction_value": text}
        return {}


class ActionApplyCorrection(Action):
    """Changes the entry the edit form picked and reads it back."""

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
        changes = incident_text.changes(text, _behaviours(tracker))
        if not changes:
            # Nothing recognisable: it is the new description, in the user's words.
            changes = {"description": incident_text.description(text), "behaviours": _behaviours(tracker)}
        updated = await _in_thread(get_store().update, tracker.sender_id, incident.id, **changes)
        ref = int(tracker.get_slot("incident_ref"))
        dispatcher.utter_message(
            response="utter_incident_corrected", number=ref, line=_incident_line(updated, known_role(tracker))
        )
        return reset


class ValidateIncidentDeleteForm(_EntryRefMixin, FormKit):
    """Which entry to delete, and a clear yes."""

    def name(self) -> str:
        return "validate_incident_delete_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        if await _in_thread(get_store().count, tracker.sender_id) == 0:
            return []
        return domain_slots

    async def extract_delete_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not self.asked(tracker, "delete_confirmed"):
            return {}
        # Anything but a clear yes keeps the entry.
        return {"delete_confirmed": bool(confirmation(tracker))}


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
            response="utter_confirm_delete", number=int(tracker.get_slot("incident_ref") or 0), line=line
        )
        return []


class ActionDeleteIncident(Action):
    """Deletes the entry once confirmed; the others are numbered again."""

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
            dispatcher.utter_message(response="utter_delete_cancelled")
            return reset
        await _in_thread(get_store().delete, tracker.sender_id, incident.id)
        left = await _in_thread(get_store().count, tracker.sender_id)
        dispatcher.utter_message(response="utter_incident_deleted", left=left)
        return reset
