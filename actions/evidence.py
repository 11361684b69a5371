"""The evidence locker's dialogue (issue #15): a file came in, confirm, then log; the pack.

- ``action_receive_evidence`` (after ``/evidence_received``, which only the
  evidence channel sends: channels/evidence.py): the proposal travels in the
  message's metadata; it is kept in ``evidence_pending`` and ``evidence_form``
  asks: for a screenshot "我从截图里读到：… 记为 N 条来电记录？" (记下 / 不用记),
  for a recording without a description a one-line description.
- ``action_confirm_evidence`` (when the form ends): on yes one incident per
  proposed entry (incidents/store.py), each linked to the file, and what was
  saved read back; on no nothing is logged and the file is kept; the slots
  are cleared either way.
- ``action_evidence_pack``: a signed link to the evidence pack (.zip). In
  WeChat without ``ANXIN_PUBLIC_URL`` there is no address a link could use, so
  the bot says how to get the pack from the web chat instead.
- ``chart_link``: the same kind of link to the chart of the calls (the web chat
  shows it under the log: actions/incidents.py).

Nothing here logs; the file's content never leaves the stores.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.form_kit import ALWAYS_STEP_ASIDE, FormKit, answer_text, confirmation
from evidence import extract, links
from evidence import store as evidence_store
from incidents.phones import mask_phone
from incidents.rules import when_text
from incidents.store import get_store as get_incident_store
from incidents.timeparse import parse_time

FORM_SLOTS = ("evidence_confirmed", "evidence_description")
PENDING = "evidence_pending"
ENV_PUBLIC_URL = "ANXIN_PUBLIC_URL"
LINK_PATH = "/webhooks/evidence/"  # + "pack/<token>" or "chart/<token>" (channels/evidence.py)
PACK_PATH = LINK_PATH + "pack/"
PACK_TTL = links.DEFAULT_TTL
CHART_TTL = links.DEFAULT_TTL
WECHAT = "wechat"  # the input channel's name (channels/wechat.py)
MAX_READBACK = 12
# Besides a yes (advisor/answers.py; "不用记" is a no there), what says "log them".
LOG_WORDS = ("记下", "记上", "记吧", "要记", "都记")


def received_evidence(tracker: Tracker) -> dict[str, Any] | None:
    """The ``evidence`` metadata of the latest user message, if any."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            metadata = event.get("metadata") or {}
            value = metadata.get("evidence") if isinstance(metadata, dict) else None
            return value if isinstance(value, dict) else None
    return None


def clear() -> list[dict[str, Any]]:
    return [SlotSet(PENDING, None), *(SlotSet(slot, None) for slot in FORM_SLOTS)]


def public_url() -> str:
    return os.environ.get(ENV_PUBLIC_URL, "").strip().rstrip("/")


def sealed_link(sender_id: str, kind: str, ttl: int) -> str:
    """A signed, expiring link to the sender's ``kind`` ("pack" or "chart"): the public
    address in front when set, else a path on the Rasa server."""
    owner = evidence_store.owner_key(sender_id)
    token = links.make_path_token(owner, kind, ttl, sender_id=sender_id)
    return f"{public_url()}{LINK_PATH}{kind}/{token}"


def pack_link(sender_id: str, ttl: int = PACK_TTL) -> str:
    """Where the pack is downloaded."""
    return sealed_link(sender_id, "pack", ttl)


def chart_link(sender_id: str, ttl: int = CHART_TTL) -> str:
    """Where the chart of the sender's logged calls is shown (a PNG)."""
    return sealed_link(sender_id, "chart", ttl)


def latest_channel(tracker: Tracker) -> str | None:
    """The input channel of the latest user message that names one (a number picked from
    WeChat's list is replayed as a message without a channel: actions/options.py)."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user" and event.get("input_channel"):
            return str(event["input_channel"])
    return None


class ActionReceiveEvidence(Action):
    def name(self) -> str:
        return "action_receive_evidence"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        previous = tracker.get_slot(PENDING)
        if isinstance(previous, dict) and previous.get("proposed"):
            # A second screenshot before the first was answered: say what was not logged.
            dispatcher.utter_message(
                response="utter_evidence_previous_not_logged", count=len(previous["proposed"])
            )
        evidence = received_evidence(tracker) or {}
        file_id = evidence.get("file_id")
        store = evidence_store.get_store()
        record = await asyncio.to_thread(store.get, tracker.sender_id, file_id) if file_id else None
        if record is None:  # not a file of this user: nothing to confirm
            dispatcher.utter_message(response="utter_evidence_not_found")
            return clear()
        dispatcher.utter_message(
            response="utter_evidence_saved",
            kind="截图" if record.kind == "image" else "录音",
            sha=record.sha256[:12],
            received=f"{record.received_beijing:%Y-%m-%d %H:%M}",
        )
        description = " ".join(str(evidence.get("description") or "").split())[
            : evidence_store.MAX_DESCRIPTION
        ]
        if record.kind == "audio":
            if description:
                await asyncio.to_thread(store.describe, tracker.sender_id, record.id, description)
                dispatcher.utter_message(response="utter_evidence_described", description=description)
                return clear()
            return [*clear(), SlotSet(PENDING, {"file_id": record.id, "kind": "audio"})]
        proposed = [e for e in evidence.get("proposed") or [] if isinstance(e, dict)]
        summary = str(evidence.get("summary") or "")
        if not proposed:
            dispatcher.utter_message(response="utter_evidence_nothing_read", summary=summary or None)
            return clear()
        pending = {"file_id": record.id, "kind": "image", "proposed": proposed, "summary": summary}
        return [*clear(), SlotSet(PENDING, pending)]


class ValidateEvidenceForm(FormKit):
    """What the form asks depends on the file: a yes / no for a screenshot's
    entries, a one-line description for a recording."""

    move_on_quietly = frozenset(FORM_SLOTS)
    # Another file while this one waits for an answer: the rule for a new file runs.
    step_aside_for = ALWAYS_STEP_ASIDE | {"evidence_received"}

    def name(self) -> str:
        return "validate_evidence_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        pending = tracker.get_slot(PENDING) or {}
        if not isinstance(pending, dict):
            return []
        if pending.get("kind") == "image" and pending.get("proposed"):
            return ["evidence_confirmed"]
        if pending.get("kind") == "audio":
            return ["evidence_description"]
        return []

    async def extract_evidence_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not self.asked(tracker, "evidence_confirmed"):
            return {}
        dated = self._with_day(tracker)
        if dated is not None:  # "11月20日": the day the summary asked for, and a yes
            return {"evidence_confirmed": True, PENDING: dated}
        answer = confirmation(tracker)
        if answer is None and any(word in answer_text(tracker) for word in LOG_WORDS):
            answer = True  # the button "记下", or "记上吧"
        if answer is None:  # explain once, then log nothing
            return self.missed(dispatcher, tracker, domain, "evidence_confirmed", fallback=False)
        return {"evidence_confirmed": answer}

    @staticmethod
    def _with_day(tracker: Tracker) -> dict[str, Any] | None:
        """The pending proposal with the day the answer names given to its undated
        rows; None when no row waits for a day or the answer names none."""
        pending = tracker.get_slot(PENDING) or {}
        entries = pending.get("proposed") if isinstance(pending, dict) else None
        if not entries or all(e.get("occurred_at") for e in entries if isinstance(e, dict)):
            return None
        parsed = parse_time(answer_text(tracker))
        if parsed is None or not parsed.ok or parsed.value is None:
            return None
        filled_entries, filled = extract.with_day_entries(entries, parsed.value.date())
        return {**pending, "proposed": filled_entries} if filled else None

    async def extract_evidence_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not self.asked(tracker, "evidence_description"):
            return {}
        text = " ".join(answer_text(tracker).split())[: evidence_store.MAX_DESCRIPTION]
        if not text or text.startswith("/"):
            return self.missed(dispatcher, tracker, domain, "evidence_description", fallback="")
        return {"evidence_description": text}


class ActionAskEvidenceConfirmed(Action):
    """The form's question: what was read, and "记为 N 条…？"."""

    def name(self) -> str:
        return "action_ask_evidence_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        pending = tracker.get_slot(PENDING) or {}
        dispatcher.utter_message(
            response="utter_ask_evidence_confirmed", summary=pending.get("summary") or ""
        )
        return []


def log_entries(sender_id: str, pending: dict[str, Any]) -> tuple[list[Any], int]:
    """One incident per proposed entry with a day; linked to the file. (saved, skipped)"""
    incidents = get_incident_store()
    saved, skipped = [], 0
    for entry in pending.get("proposed") or []:
        try:
            occurred = datetime.fromisoformat(entry["occurred_at"]) if entry.get("occurred_at") else None
        except (TypeError, ValueError):
            occurred = None
        if occurred is None:
            skipped += 1  # the day was not read: nothing is invented
            continue
        saved.append(
            incidents.add(
                sender_id,
                occurred_at=occurred.replace(tzinfo=None),
                time_text=entry.get("time_text") or "",
                time_precision=entry.get("time_precision"),
                caller_number=entry.get("caller_number"),
                description=entry.get("description") or "",
                behaviours=entry.get("behaviours") or [],
                evidence=entry.get("evidence") or [],
                attempts=entry.get("attempts") or 1,
            )
        )
    if saved:
        evidence_store.get_store().link_incidents(sender_id, pending["file_id"], [i.id for i in saved])
    return saved, skipped


class ActionConfirmEvidence(Action):
    def name(self) -> str:
        return "action_confirm_evidence"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        pending = tracker.get_slot(PENDING)
        if not isinstance(pending, dict) or not pending.get("file_id"):
            return clear()
        sender = tracker.sender_id
        store = evidence_store.get_store()
        if await asyncio.to_thread(store.get, sender, pending["file_id"]) is None:
            dispatcher.utter_message(response="utter_evidence_not_found")
            return clear()
        if pending.get("kind") == "audio":
            description = tracker.get_slot("evidence_description") or ""
            if description:
                await asyncio.to_thread(store.describe, sender, pending["file_id"], description)
                dispatcher.utter_message(response="utter_evidence_described", description=description)
            else:
                dispatcher.utter_message(response="utter_evidence_kept")
            return clear()
        if tracker.get_slot("evidence_confirmed") is not True:
            dispatcher.utter_message(response="utter_evidence_not_logged")
            return clear()
        saved, skipped = await asyncio.to_thread(log_entries, sender, pending)
        if saved:
            lines = [
                f"第 {i.id} 条：{when_text(i)} {mask_phone(i.caller_number) if i.caller_number else ''}"
                f"{'（' + str(i.attempts) + ' 次）' if i.attempts > 1 else ''}".rstrip()
                for i in saved[:MAX_READBACK]
            ]
            if len(saved) > MAX_READBACK:
                lines.append(f"……（共 {len(saved)} 条）")
            dispatcher.utter_message(
                response="utter_evidence_logged", count=len(saved), lines="\n".join(lines)
            )
        if skipped:
            dispatcher.utter_message(response="utter_evidence_undated", count=skipped)
        return clear()


class ActionEvidencePack(Action):
    def name(self) -> str:
        return "action_evidence_pack"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        sender = tracker.sender_id
        files = await asyncio.to_thread(evidence_store.get_store().list, sender)
        if not files:
            dispatcher.utter_message(response="utter_evidence_pack_empty")
            return []
        if latest_channel(tracker) == WECHAT and not public_url():
            # A path without the server's address opens nothing in WeChat.
            dispatcher.utter_message(response="utter_evidence_pack_from_web", count=len(files))
            return []
        link = pack_link(sender)
        dispatcher.utter_message(response="utter_evidence_pack", link=link, count=len(files))
        # The web chat shows a download button for this (as data_erased tells it to forget).
        dispatcher.utter_message(json_message={"type": "evidence_pack", "url": link})
        return []
