"""Letters: ask only for what the chosen letter still lacks, let the user
confirm the facts, then send the letter.

The letter types (label, trigger words, required facts) are defined in the
knowledge file and read through ``letters.registry``. The letter is rendered
by ``letters.render.render_letter`` from the slots and the incident log and
sent once, as one structured message (``letters.message``) that each channel
renders in its own way.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

import knowledge
from actions.common import intent_name, known_role, latest_entities, say
from actions.form_kit import INTERRUPTIONS, FormKit, answer_text
from advisor import answers
from advisor.roles import infer_role
from incidents import text as incident_text
from incidents.phones import find_phones, normalize_phone
from incidents.store import get_store, local_now
from incidents.timeparse import parse_time
from letters import registry, submissions
from letters.fields import person_name
from letters.message import letter_message
from letters.render import PLACEHOLDER, render_letter, response_due

SKIP = "跳过"
# Reset after each letter; the facts (names, numbers) are kept for the next one.
PER_LETTER_SLOTS = ("letter_kind", "letter_confirmed")


def definite_legal_name(lender_key: str | None) -> str | None:
    """The lender's legal name when the knowledge file is sure of it."""
    kb = knowledge.load()
    if not kb.is_lender(lender_key):
        return None
    name = re.sub(r"（[^）]*）", "", kb.lender(lender_key).legal_name)
    return name if re.fullmatch(r"[\u4e00-\u9fff]+(有限公司|股份有限公司|有限责任公司)", name) else None


def _given(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != SKIP else None


class ValidateLetterForm(FormKit):
    # Asking for the log, a question, another letter: not an answer. The form
    # steps aside for the rules (data/rules/letters.yml) and resumes after.
    step_aside_for = frozenset(INTERRUPTIONS - {"request_letter"})
    # "先不写" is an answer too; anything else twice: not confirmed, and the
    # action says the letter was not written.
    move_on_quietly = frozenset({"letter_confirmed"})

    def name(self) -> str:
        return "validate_letter_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        kind = tracker.get_slot("letter_kind")
        if not kind:
            return ["letter_kind"]
        needs = [slot for slot in registry.get(kind).form_slots if self._needed(slot, tracker)]
        return ["letter_kind", *needs, "letter_confirmed"]

    @staticmethod
    def _needed(slot: str, tracker: Tracker) -> bool:
        value = tracker.get_slot(slot)
        lender = tracker.get_slot("lender")
        if slot == "lender":
            # "不知道" during triage: the user may have found out since.
            return not lender or (lender == "unknown" and tracker.get_slot("letter_lender_name") is None)
        if slot == "letter_lender_name":
            return value is None and lender not in (None, "unknown") and not definite_legal_name(lender)
        if slot == "letter_borrower_name" and tracker.get_slot("user_role") == "borrower":
            return False
        if slot == "user_role":
            return known_role(tracker) is None  # skipped during triage: ask again for the letter
        return value is None

    async def extract_letter_kind(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("letter_kind"):
            return {}
        kind = registry.kind_in(answer_text(tracker))
        if kind:
            return {"letter_kind": kind}
        if not self.asked(tracker, "letter_kind"):
            return {}
        return self.missed(dispatcher, tracker, domain, "letter_kind", fallback="lender_complaint")

    async def extract_user_role(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        if known_role(tracker) or tracker.get_slot("requested_slot") != "user_role":
            return {}
        role = infer_role(
            answer_text(tracker), latest_entities(tracker, "relation"), answering_role_question=True
        )
        return {"user_role": role or "other"}

    async def extract_lender(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "lender":
            return {}
        text = answer_text(tracker)
        found = latest_entities(tracker, "lender") or [knowledge.load().resolve_lender(text)]
        if found[0] and found[0] != "unknown":
            return {"lender": found[0], "letter_lender_name": definite_legal_name(found[0])}
        # Not a product we know: the answer is the company's name as the user has it.
        return {
            "lender": "unknown",
            "letter_lender_name": SKIP if incident_text.is_skip(text) else text.strip()[:60],
        }

    async def extract_letter_author_name(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        return self._name(dispatcher, tracker, domain, "letter_author_name")

    async def extract_letter_borrower_name(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        return self._name(dispatcher, tracker, domain, "letter_borrower_name")

    def explain_response(self, slot: str, domain: DomainDict) -> str:
        if slot in ("letter_author_name", "letter_borrower_name"):
            return "utter_explain_letter_name"
        return super().explain_response(slot, domain)

    def _name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, slot: str
    ) -> dict[str, Any]:
        """A name, "跳过", or (once) an explanation; a report or a question
        typed here is never taken as the name."""
        if tracker.get_slot("requested_slot") != slot:
            return {}
        text = answer_text(tracker)
        if incident_text.is_skip(text):
            return {slot: SKIP}
        name = person_name(text)
        if name:
            return {slot: name}
        return self.missed(dispatcher, tracker, domain, slot, fallback=SKIP)

    async def extract_letter_lender_name(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        return self._free_text(tracker, "letter_lender_name", lambda t: t.strip()[:60] or None)

    async def extract_letter_police_station(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        return self._free_text(tracker, "letter_police_station", lambda t: t.strip()[:40] or None)

    async def extract_letter_author_phone(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "letter_author_phone":
            return {}
        text = answer_text(tracker)
        if incident_text.is_skip(text):
            return {"letter_author_phone": SKIP}
        phones = [p for p in find_phones(text) if p.valid] or [normalize_phone(text)]
        if phones[0].valid:
            return {"letter_author_phone": phones[0].number}
        dispatcher.utter_message(response="utter_explain_letter_author_phone")
        return {}

    async def extract_letter_confirmed(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        if not self.asked(tracker, "letter_confirmed"):
            return {}
        answer = answers.confirms_letter(answer_text(tracker), intent_name(tracker))
        if answer is not None:
            return {"letter_confirmed": answer}
        return self.missed(dispatcher, tracker, domain, "letter_confirmed", fallback=False)

    @staticmethod
    def _free_text(tracker: Tracker, slot: str, read) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot:
            return {}
        text = answer_text(tracker)
        if incident_text.is_skip(text):
            return {slot: SKIP}
        value = read(text)
        return {slot: value or text.strip()[:40]}


def _lender_name(tracker: Tracker) -> str | None:
    return _given(tracker.get_slot("letter_lender_name")) or definite_legal_name(tracker.get_slot("lender"))


def _lender_type(tracker: Tracker) -> str | None:
    kb = knowledge.load()
    key = tracker.get_slot("lender")
    return kb.lender(key).type if kb.is_lender(key) else None


async def _facts(tracker: Tracker) -> dict[str, Any]:
    incidents = await asyncio.to_thread(get_store().list, tracker.sender_id)
    return {
        "author_name": _given(tracker.get_slot("letter_author_name")),
        "author_relation": known_role(tracker),
        "author_phone": _given(tracker.get_slot("letter_author_phone")),
        "borrower_name": _given(tracker.get_slot("letter_borrower_name")),
        "lender_name": _lender_name(tracker),
        "lender_type": _lender_type(tracker),
        "police_station": _given(tracker.get_slot("letter_police_station")),
        "incidents": incidents,
        "date": local_now().date(),
    }


class ActionAskLetterConfirmed(Action):
    """Before writing: what the letter will say, and that it must be true."""

    def name(self) -> str:
        return "action_ask_letter_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        kind = tracker.get_slot("letter_kind")
        facts = await _facts(tracker)
        letter = render_letter(kind, facts)
        kb = knowledge.load()
        role = facts["author_relation"]
        blank = PLACEHOLDER
        lines = [say(domain, "utter_letter_preview_kind", label=registry.label(kind))]
        if facts["author_name"] or role:
            who = kb.relations.get(role, {}).get("label", "") if role else ""
            lines.append(
                say(
                    domain,
                    "utter_letter_preview_author",
                    name=facts["author_name"] or blank,
                    relation=who or say(domain, "utter_letter_preview_no_relation"),
                )
            )
        if "lender_name" in registry.get(kind).requires:
            lines.append(say(domain, "utter_letter_preview_lender", lender=facts["lender_name"] or blank))
        count = len(facts["incidents"])
        lines.append(
            say(domain, "utter_letter_preview_log", count=count)
            if count
            else say(domain, "utter_letter_preview_no_log")
        )
        if letter.missing:
            lines.append(
                say(domain, "utter_letter_preview_missing", missing="、".join(letter.missing_labels))
            )
        dispatcher.utter_message(response="utter_letter_confirm_question", preview="\n".join(lines))
        return []


class ActionWriteLetter(Action):
    """The letter, once, as one structured message; then where it goes."""

    def name(self) -> str:
        return "action_write_letter"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        reset = [SlotSet(slot, None) for slot in PER_LETTER_SLOTS]
        kind = tracker.get_slot("letter_kind")
        if not tracker.get_slot("letter_confirmed") or not kind:
            dispatcher.utter_message(response="utter_letter_cancelled")
            return reset
        letter = render_letter(kind, await _facts(tracker))
        dispatcher.utter_message(json_message=letter_message(letter, local_now().date()))
        if letter.missing:
            dispatcher.utter_message(
                response="utter_letter_has_gaps",
                count=len(letter.missing),
                missing="、".join(letter.missing_labels),
            )
        dispatcher.utter_message(
            response="utter_letter_where_to_send", recipient=letter.recipient, channel=letter.channel
        )
        for note in letter.notes:
            dispatcher.utter_message(text=note)
        dispatcher.utter_message(response="utter_letter_tell_me_when_sent")
        return reset


# -- where a complaint was sent ------------------------------------------------


class ActionRecordSubmission(Action):
    """Note where a complaint went, when, and its number; say when to follow up."""

    def name(self) -> str:
        return "action_record_submission"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        text = answer_text(tracker)
        if not submissions.reports_sending(text):
            # "12348 是干什么的" names a channel but reports nothing sent: answer it.
            return [FollowupAction("action_answer_faq")]
        kb = knowledge.load()
        channel, kind = kb.submission_channel(text)
        kind = kind or "lender_complaint"
        parsed = parse_time(text)
        when = parsed.value if parsed and parsed.ok else local_now()
        reference = submissions.reference_in(text)
        due = response_due(kind, when.date())
        await asyncio.to_thread(
            get_store().add_submission,
            tracker.sender_id,
            kind=kind,
            channel=channel or "未说明",
            submitted_at=when,
            reference=reference,
            due_date=due,
        )
        lines = [
            say(
                domain,
                "utter_submission_recorded",
                date=f"{when.month}月{when.day}日",
                to=say(domain, "utter_submission_to", channel=channel) if channel else "",
                reference=say(domain, "utter_submission_reference", reference=reference) if reference else "",
            )
        ]
        if due:
            lines.append(
                say(domain, "utter_submission_due", date=f"{due.month}月{due.day}日")
                + kb.fact("unanswered_complaint")
            )
        else:
            lines.append(say(domain, "utter_submission_no_deadline"))
        if not channel:
            lines.append(say(domain, "utter_submission_ask_channel"))
        dispatcher.utter_message(text="\n".join(lines))
        return []
