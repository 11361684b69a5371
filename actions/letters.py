"""Letters: ask only for what the chosen letter still lacks, let the user
confirm the facts, then send the letter.

The letter is rendered by ``letters.render.render_letter`` from the slots and
the incident log. It goes out as text bubbles (each within WeChat's 2048-byte
cap, in order) and, for the web widget, as one custom payload with the title,
the body and a .docx file (base64).
"""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

import knowledge
from actions import incident_text
from actions.common import intent_name, known_role, latest_entities
from actions.forms import INTERRUPTIONS, FormValidation, _answer_text
from actions.incidents import confirmation
from advisor.roles import infer_role
from incidents.phones import find_phones, normalize_phone
from incidents.store import get_store, local_now
from incidents.timeparse import parse_time
from letters.docx_export import to_docx_bytes
from letters.fields import person_name
from letters.render import Letter, render_letter, response_due, split_for_wechat

SKIP = "跳过"
# Reset after each letter; the facts (names, numbers) are kept for the next one.
PER_LETTER_SLOTS = ("letter_kind", "letter_confirmed")
# Words that pick a letter, most specific first.
KIND_WORDS = (
    ("report_12321", ("12321", "骚扰电话举报", "举报骚扰电话", "举报号码")),
    ("pipl_request", ("个人信息", "删除我的号码", "删除号码", "删号码", "第47条", "第44条", "删除个人")),
    ("police_statement", ("报警", "派出所", "警察", "报案", "公安")),
    ("regulator_complaint", ("监管", "12378", "金融局", "金融管理局", "银保监", "金融监督")),
    ("lender_complaint", ("放款机构", "平台", "投诉信", "贷款公司", "银行投诉", "给银行", "投诉函", "投诉")),
)
KIND_NAMES = {
    "lender_complaint": "给放款机构的投诉信",
    "regulator_complaint": "给金融监管的投诉",
    "pipl_request": "要求删除个人信息的通知",
    "police_statement": "报警材料",
    "report_12321": "12321 举报",
}
# Which form slots each letter uses (render.REQUIRED, in the form's words).
# Which lender first: it is what a complaint is about, and what people expect to be asked.
_PARTIES = ("lender", "letter_lender_name", "user_role", "letter_author_name", "letter_author_phone")
NEEDS = {
    "lender_complaint": (*_PARTIES, "letter_borrower_name"),
    "regulator_complaint": (*_PARTIES, "letter_borrower_name"),
    "pipl_request": _PARTIES,
    "police_statement": ("letter_police_station", *_PARTIES, "letter_borrower_name"),
    "report_12321": ("letter_author_phone",),
}


def kind_in(text: str) -> str | None:
    for kind, words in KIND_WORDS:
        if any(word in text for word in words):
            return kind
    return None


def definite_legal_name(lender_key: str | None) -> str | None:
    """The lender's legal name when the knowledge file is sure of it."""
    kb = knowledge.load()
    if not lender_key or lender_key not in kb.data["lenders"]:
        return None
    name = re.sub(r"（[^）]*）", "", kb.lender(lender_key).legal_name)
    return name if re.fullmatch(r"[\u4e00-\u9fff]+(有限公司|股份有限公司|有限责任公司)", name) else None


def _given(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != SKIP else None


class ValidateLetterForm(FormValidation):
    # Asking for the log, a question, another letter: not an answer. The form
    # steps aside for the rules (data/rules/letters.yml) and resumes after.
    step_aside_for = frozenset(INTERRUPTIONS - {"request_letter"})

    def name(self) -> str:
        return "validate_letter_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        kind = tracker.get_slot("letter_kind")
        if not kind:
            return ["letter_kind"]
        needs = [slot for slot in NEEDS[kind] if self._needed(slot, tracker)]
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
        kind = kind_in(_answer_text(tracker))
        if kind:
            return {"letter_kind": kind}
        if tracker.get_slot("requested_slot") != "letter_kind":
            return {}
        if _missed_twice(tracker):
            dispatcher.utter_message(text="先按给放款机构的投诉信来写，之后可以再写别的。")
            return {"letter_kind": "lender_complaint", "incident_retries": 0}
        dispatcher.utter_message(response="utter_explain_letter_kind")
        return {"incident_retries": 1}

    async def extract_user_role(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        if known_role(tracker) or tracker.get_slot("requested_slot") != "user_role":
            return {}
        role = infer_role(
            _answer_text(tracker), latest_entities(tracker, "relation"), answering_role_question=True
        )
        return {"user_role": role or "other"}

    async def extract_lender(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "lender":
            return {}
        text = _answer_text(tracker)
        found = latest_entities(tracker, "lender") or [knowledge.load().resolve_lender(text)]
        if found[0] and found[0] != "unknown":
            return {"lender": found[0], "letter_lender_name": definite_legal_name(found[0])}
        # Not a product we know: the answer is the company's name as the user has it.
        return {
            "lender": "unknown",
            "letter_lender_name": SKIP if incident_text.is_skip(text) else text.strip()[:60],
        }

    async def extract_letter_author_name(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        return self._name(dispatcher, tracker, "letter_author_name")

    async def extract_letter_borrower_name(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        return self._name(dispatcher, tracker, "letter_borrower_name")

    def _name(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> dict[str, Any]:
        """A name, "跳过", or (once) an explanation; a report or a question
        typed here is never taken as the name."""
        if tracker.get_slot("requested_slot") != slot:
            return {}
        text = _answer_text(tracker)
        if incident_text.is_skip(text):
            return {slot: SKIP}
        name = person_name(text)
        if name:
            return {slot: name, "incident_retries": 0}
        if intent_name(tracker) in self.step_aside_for:
            return {}
        if _missed_twice(tracker):
            dispatcher.utter_message(text="这一项先空着，信里会写【待填写】，您之后自己补上。")
            return {slot: SKIP, "incident_retries": 0}
        dispatcher.utter_message(response="utter_explain_letter_name")
        return {"incident_retries": 1}

    async def extract_letter_lender_name(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        return self._free_text(tracker, "letter_lender_name", lambda t: t.strip()[:60] or None)

    async def extract_letter_police_station(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        return self._free_text(tracker, "letter_police_station", lambda t: t.strip()[:40] or None)

    async def extract_letter_author_phone(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "letter_author_phone":
            return {}
        text = _answer_text(tracker)
        if incident_text.is_skip(text):
            return {"letter_author_phone": SKIP}
        phones = [p for p in find_phones(text) if p.valid] or [normalize_phone(text)]
        if phones[0].valid:
            return {"letter_author_phone": phones[0].number}
        dispatcher.utter_message(response="utter_explain_letter_author_phone")
        return {}

    async def extract_letter_confirmed(self, dispatcher, tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "letter_confirmed":
            return {}
        answer = confirmation(tracker)
        if answer is None and any(
            w in _answer_text(tracker) for w in ("生成", "属实", "没问题", "可以", "写吧")
        ):
            answer = True
        if answer is not None:
            return {"letter_confirmed": answer, "incident_retries": 0}
        if _missed_twice(tracker):
            return {"letter_confirmed": False, "incident_retries": 0}
        dispatcher.utter_message(text="请回复“确认生成”，或者“先不写”。")
        return {"incident_retries": 1}

    @staticmethod
    def _free_text(tracker: Tracker, slot: str, read) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot:
            return {}
        text = _answer_text(tracker)
        if incident_text.is_skip(text):
            return {slot: SKIP}
        value = read(text)
        return {slot: value or text.strip()[:40]}


def _missed_twice(tracker: Tracker) -> bool:
    """The question was already explained once (the counter is shared with the incident form)."""
    return int(tracker.get_slot("incident_retries") or 0) >= 1


def _lender_name(tracker: Tracker) -> str | None:
    return _given(tracker.get_slot("letter_lender_name")) or definite_legal_name(tracker.get_slot("lender"))


def _lender_type(tracker: Tracker) -> str | None:
    kb = knowledge.load()
    key = tracker.get_slot("lender")
    return kb.lender(key).type if key in kb.data["lenders"] else None


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
        lines = [f"准备写：{KIND_NAMES[kind]}"]
        if facts["author_name"] or role:
            who = kb.relations.get(role, {}).get("label", "") if role else ""
            lines.append(f"署名：{facts['author_name'] or '【待填写】'}（{who or '关系待填写'}）")
        if kind != "report_12321":
            lines.append(f"放款机构：{facts['lender_name'] or '【待填写】'}")
        count = len(facts["incidents"])
        lines.append(f"来电记录：{count} 条" if count else "来电记录：还没有，信里这部分会留【待填写】")
        if letter.missing:
            lines.append("还缺：" + "、".join(letter.missing_labels) + "（信里写【待填写】，寄出前补上）")
        lines.append("信里的事实要真实。确认都属实，我就生成。")
        dispatcher.utter_message(
            text="\n".join(lines),
            buttons=[
                {"title": "确认生成", "payload": "确认生成"},
                {"title": "先不写", "payload": "先不写"},
            ],
        )
        return []


def letter_payload(letter: Letter) -> dict[str, Any]:
    """The structured message the web widget shows as a card with a download."""
    stamp = local_now().strftime("%Y%m%d")
    return {
        "type": "letter",
        "kind": letter.kind,
        "title": letter.title,
        "body": letter.body,
        "filename": f"{letter.title}-{stamp}.docx",
        "docx_base64": base64.b64encode(to_docx_bytes(letter)).decode("ascii"),
        "missing": letter.missing_labels,
    }


class ActionWriteLetter(Action):
    def name(self) -> str:
        return "action_write_letter"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        reset = [SlotSet(slot, None) for slot in PER_LETTER_SLOTS]
        kind = tracker.get_slot("letter_kind")
        if not tracker.get_slot("letter_confirmed") or not kind:
            dispatcher.utter_message(response="utter_letter_cancelled")
            return reset
        letter = render_letter(kind, await _facts(tracker))
        for piece in split_for_wechat(letter.text):
            dispatcher.utter_message(text=piece)
        dispatcher.utter_message(json_message=letter_payload(letter))
        after = []
        if letter.missing:
            after.append(
                f"信里有 {len(letter.missing)} 类【待填写】：{'、'.join(letter.missing_labels)}。寄出前请补上。"
            )
        after.append(f"交给：{letter.recipient}。方式：{letter.channel}。")
        after.extend(letter.notes)
        after.append("发出以后告诉我，比如“已经向平台投诉了，工单号是 A2026…”，我帮您记下日期，到期提醒您跟进。")
        for line in after:
            dispatcher.utter_message(text=line)
        return reset


# -- where a complaint was sent ------------------------------------------------

CHANNEL_WORDS = (
    ("12378", "12378", "regulator_complaint"),
    ("12321", "12321", "report_12321"),
    ("110", "公安机关", "police_statement"),
    ("派出所", "公安机关", "police_statement"),
    ("报警", "公安机关", "police_statement"),
    ("95188", "支付宝客服 95188", "lender_complaint"),
    ("金融管理局", "地方金融管理局", "regulator_complaint"),
    ("监管", "金融监管部门", "regulator_complaint"),
    ("删除", "放款机构（个人信息）", "pipl_request"),
    ("客服", "放款机构客服", "lender_complaint"),
    ("平台", "放款机构", "lender_complaint"),
    ("银行", "放款机构", "lender_complaint"),
)
_REFERENCE = re.compile(
    r"(?:工单号|单号|编号|受理号|回执号|流水号|查询码)[是为:：\s]*(?P<ref>[A-Za-z0-9-]{3,40})"
)


# A report of something already sent: past tense, or a case number.
_SUBMITTED = re.compile(r"(投诉|提交|举报|报警|报案|寄|打|递交|反映)(了|过)|已(经)?(投诉|提交|举报|报警|报案|寄出)|工单|编号|受理|回执")


def submitted(text: str) -> bool:
    return _SUBMITTED.search(text or "") is not None


class ActionRecordSubmission(Action):
    """Note where a complaint went, when, and its number; say when to follow up."""

    def name(self) -> str:
        return "action_record_submission"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        text = _answer_text(tracker)
        if not submitted(text):
            # "12348 是干什么的" names a channel but reports nothing sent: answer it.
            return [FollowupAction("action_answer_faq")]
        channel, kind = next(((name, kind) for word, name, kind in CHANNEL_WORDS if word in text), ("", None))
        kind = kind or "lender_complaint"
        parsed = parse_time(text)
        when = parsed.value if parsed and parsed.ok else local_now()
        match = _REFERENCE.search(text)
        reference = match["ref"] if match else None
        due = response_due(kind, when.date())
        store = get_store()
        await asyncio.to_thread(
            store.add_submission,
            tracker.sender_id,
            kind=kind,
            channel=channel or "未说明",
            submitted_at=when,
            reference=reference,
            due_date=due,
        )
        lines = [f"记下了：{when.month}月{when.day}日" + (f"向{channel}" if channel else "") + "提交"]
        if reference:
            lines[0] += f"，编号 {reference}"
        lines[0] += "。"
        if due:
            lines.append(f"一般应在 {due.month}月{due.day}日前答复。到时没有答复，可以向金融监管投诉：银行、消费金融公司打 12378，小额贷款公司找地方金融管理局。")
        else:
            lines.append("答复时间以受理部门告知的为准；请留好受理回执或截图。")
        if not channel:
            lines.append("是向哪里提交的？比如“平台客服”“12378”“派出所”，再说一次我更新。")
        dispatcher.utter_message(text="".join(lines[:1]) + "\n" + "\n".join(lines[1:]))
        return []
