"""Complaint letters rendered from the user's facts and incident log.

``render_letter(kind, facts)`` is a pure function: the same facts give the
same letter, nothing is looked up except the knowledge file, and nothing is
made up. A fact we do not have is written as 【待填写】 and listed in
``Letter.missing`` so the bot can ask for it (or the user can fill it in).

The facts dict (built by the action from slots and the incident log):

==================  =========================================================
key                 meaning
==================  =========================================================
author_name         the user's name (who signs the letter)
author_relation     the user's relation key (``borrower``, ``parent``, ...)
author_phone        the user's own number: the only private number in full
borrower_name       the borrower's name (the author's own for a borrower)
lender_name         the lender's legal name (from the contract or credit report)
lender_type         ``lender_types`` key: decides where a regulator complaint goes
regulator_name      optional: a more precise regulator (e.g. "…重庆监管局")
collection_agency   optional: the collection company, when known
collector_numbers   numbers the collectors used (also read from the incidents)
incidents           ``store.Incident`` objects or dicts, any order
breaches            optional ``rules.Breach`` list (default: ``rules.check``)
evidence            optional evidence keys (default: from the incidents)
third_parties       optional ``[{"who": "母亲", "phone": "139…"}]``: shown masked
police_station      the 派出所 (police_statement)
earlier_complaint   optional: "2026年11月22日向平台客服投诉，工单号 …"
date                the letter's date (date, datetime or text)
==================  =========================================================

Rules every letter follows: a third party's letter says "本人不是借款人，也未
同意承担该笔债务" and never offers to pay (《民法典》第552条); numbers of other
people are masked, the collectors' numbers and the author's own are shown in
full (the recipient needs them to act); the user's descriptions are quoted
as typed (numbers of other people masked, long ones shortened); laws come
from the knowledge file, and a law of confidence B or C is only "可能涉及".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
from jinja2 import ChainableUndefined, Environment, FileSystemLoader

import knowledge
from incidents import rules
from incidents.phones import mask_phone, mask_phones_in, normalize_phone
from letters import registry

PLACEHOLDER = "【待填写】"
# The letter types and the facts each needs: defined once, in the knowledge
# file (letters/registry.py).
KINDS = registry.kinds()

FIELD_LABELS = {
    "author_name": "您的姓名",
    "author_relation": "您和借款人的关系",
    "author_phone": "您的手机号",
    "borrower_name": "借款人姓名",
    "lender_name": "放款机构全称",
    "lender_type": "放款机构类型（银行、消费金融公司还是小贷公司）",
    "collector_numbers": "催收来电号码",
    "incidents": "来电记录（时间、号码、说了什么）",
    "evidence": "证据（录音、截图、通话详单）",
    "police_station": "派出所名称",
    "date": "日期",
}


EVIDENCE_LABELS = {
    "recording": "通话录音",
    "screenshot": "来电记录、短信或聊天截图",
    "call_log": "运营商通话详单",
}
MAX_QUOTE = 300  # characters of one description quoted (a letter's `quote_limit` overrides)
TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Letter:
    """A rendered letter. ``missing`` holds fact keys (see ``FIELD_LABELS``)."""

    kind: str
    title: str
    body: str
    missing: list[str]
    recipient: str = ""
    channel: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def missing_labels(self) -> list[str]:
        """What to ask the user for, in words."""
        return [FIELD_LABELS.get(key, key) for key in self.missing]

    @property
    def text(self) -> str:
        """Title and body, as sent in a chat."""
        return f"{self.title}\n\n{self.body}"


class _Blank(ChainableUndefined):
    """A value the template asks for but the facts lack: 【待填写】, never an error."""

    def __str__(self) -> str:
        return PLACEHOLDER


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=False,  # plain text, not HTML
        undefined=_Blank,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


# -- facts → template values ------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _format_date(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    text = _text(value)
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if match:
        return f"{int(match[1])}年{int(match[2])}月{int(match[3])}日"
    return text


def _relation(kb: knowledge.Knowledge, value: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    return text if text in kb.relations else kb.resolve_relation(text)


def _get(item: Any, name: str, default: Any = None) -> Any:
    return item.get(name, default) if isinstance(item, Mapping) else getattr(item, name, default)


def _numbers(facts: Mapping[str, Any], incidents: list[Any]) -> list[str]:
    given = facts.get("collector_numbers") or []
    if isinstance(given, str):
        given = [given]
    found = list(given) + [_get(i, "caller_number") for i in incidents]
    numbers: list[str] = []
    for raw in found:
        result = normalize_phone(raw) if raw else None
        if result and result.valid and result.number not in numbers:
            numbers.append(result.number)
    return numbers


def _evidence(facts: Mapping[str, Any], incidents: list[Any]) -> list[str] | None:
    """Evidence keys, or ``None`` when nobody said (then it is 【待填写】)."""
    keys = facts.get("evidence")
    if keys is None:
        from_log = [k for i in incidents for k in (_get(i, "evidence") or [])]
        keys = from_log or None
    if keys is None:
        return None
    if isinstance(keys, str):
        keys = [keys]
    return list(dict.fromkeys(k for k in keys if isinstance(k, str)))


def _evidence_lines(keys: list[str] | None) -> list[str]:
    if keys is None:
        return []
    labels = [EVIDENCE_LABELS[k] for k in keys if k in EVIDENCE_LABELS]
    return labels or ["目前没有保存录音或截图，来电记录以本人的记录为准"]


def _quote(text: str, keep: Iterable[str], limit: int) -> str:
    quoted = mask_phones_in(" ".join(text.split()), keep=keep)
    return quoted if len(quoted) <= limit else quoted[:limit] + "……（以下略）"


def _descriptions(incidents: list[Any], keep: list[str], limit: int) -> list[str]:
    lines = []
    latest = max((_get(i, "occurred_at").year for i in incidents), default=0)
    for incident in sorted(incidents, key=lambda i: (_get(i, "occurred_at"), _get(i, "id") or 0)):
        description = _text(_get(incident, "description"))
        if description:
            when = rules.when_text(incident, show_year=_get(incident, "occurred_at").year != latest)
            lines.append(f"{when}：“{_quote(description, keep, limit)}”")
    return lines


def _basis(kb: knowledge.Knowledge, keys: Iterable[str]) -> tuple[list[str], list[str]]:
    """(firm citations, "可能涉及" citations) by confidence."""
    firm, possible = [], []
    for key in keys:
        if key not in kb.laws:
            continue
        (firm if kb.laws[key]["confidence"] == "A" else possible).append(rules.citation(kb, key))
    return firm, possible


def _letter_rules(wanted: list[str], binding: list[str] | None) -> list[str]:
    """The letter's rules, the bank association's swapped for the binding ones
    when it does not bind this lender."""
    if binding is None:
        return list(wanted)
    chosen = [r for r in wanted if r in binding]
    if len(chosen) < len(wanted):
        chosen += [r for r in binding if r not in chosen]
    return chosen


def _breach_lines(
    kb: knowledge.Knowledge, breaches: list[rules.Breach], binding: list[str] | None = None
) -> list[str]:
    lines = []
    for breach in breaches:
        firm, possible = _basis(kb, breach.laws)
        rule = breach.rule
        key = kb.incident_rules.get(breach.key, {}).get("rule")
        if binding is not None and key and key not in binding:
            rule = "、".join(kb.collection_rules[r]["short"] for r in binding)
        basis = "；".join([rule] + firm + [f"可能涉及{c}" for c in possible])
        lines.append(f"{breach.summary(mask=False)}。{breach.says}（{basis}）")
    return lines


def _law_lines(kb: knowledge.Knowledge, keys: Iterable[str]) -> list[str]:
    lines = []
    for key in keys:
        law = kb.laws.get(key)
        if law:
            prefix = "" if law["confidence"] == "A" else "可能涉及"
            lines.append(f"{prefix}{rules.citation(kb, key)}：{law['gist']}")
    return lines


def _third_parties(facts: Mapping[str, Any]) -> list[str]:
    shown = []
    for item in facts.get("third_parties") or []:
        who = _text(_get(item, "who")) if not isinstance(item, str) else ""
        phone = _get(item, "phone") if not isinstance(item, str) else item
        masked = mask_phone(phone) if phone else ""
        shown.append(f"{who}（{masked}）" if who and masked else who or masked)
    return [s for s in shown if s]


def _per_number(incidents: list[Any]) -> list[dict[str, Any]]:
    counts: dict[str, dict[str, Any]] = {}
    for incident in sorted(incidents, key=lambda i: (_get(i, "occurred_at"), _get(i, "id") or 0)):
        result = normalize_phone(_get(incident, "caller_number"))
        if not result.valid:
            continue
        entry = counts.setdefault(result.number, {"number": result.number, "count": 0, "first": None})
        entry["count"] += max(1, int(_get(incident, "attempts", 1) or 1))
        day = _format_date(_get(incident, "occurred_at"))
        entry["first"] = entry["first"] or day
        entry["last"] = day
    return list(counts.values())


# Authors whose letter may not demand that all contact stop.
_OWN_STANCE = {"borrower": "borrower", "guarantor": "guarantor", "heir": "heir", "spouse": "spouse"}


def _stance(relation: str | None) -> str:
    """How the letter speaks for its author: ``borrower``, ``guarantor``,
    ``heir``, ``spouse`` or ``third_party`` (also when not known)."""
    return _OWN_STANCE.get(relation or "", "third_party")


def _context(
    kind: str, facts: Mapping[str, Any], kb: knowledge.Knowledge
) -> tuple[dict[str, Any], list[str]]:
    relation = _relation(kb, facts.get("author_relation"))
    is_borrower = relation == "borrower"
    third_party = relation is not None and not is_borrower
    incidents = [i for i in facts.get("incidents") or [] if isinstance(_get(i, "occurred_at"), datetime)]
    author_phone = normalize_phone(facts.get("author_phone"))
    numbers = _numbers(facts, incidents)
    keep = numbers + ([author_phone.number] if author_phone.valid else [])
    breaches = facts.get("breaches")
    if breaches is None:
        breaches = rules.check(incidents, kb, author_relation=relation)
    evidence = _evidence(facts, incidents)
    borrower_name = _text(facts.get("borrower_name")) or (
        _text(facts.get("author_name")) if is_borrower else ""
    )
    lender_type = _text(facts.get("lender_type"))
    # "unknown" and "platform" say nothing about where a regulator complaint goes.
    if lender_type not in kb.lender_types or not kb.lender_type(lender_type).get("complaint_channel"):
        lender_type = ""

    values: dict[str, Any] = {
        "author_name": _text(facts.get("author_name")),
        "author_relation": relation or "",
        "author_phone": author_phone.number if author_phone.valid else "",
        "borrower_name": borrower_name,
        "lender_name": _text(facts.get("lender_name")),
        "lender_type": lender_type,
        "collector_numbers": numbers,
        "incidents": incidents,
        "evidence": evidence if evidence is not None else [],
        "police_station": _text(facts.get("police_station")),
        "date": _format_date(facts.get("date")),
    }
    missing = [
        key
        for key in registry.get(kind, kb).requires
        if not values[key] and not (key == "evidence" and evidence is not None)
    ]

    cfg = kb.letter(kind)
    # The rules that bind this lender (§11.10: not the bank association's for a
    # micro-loan company); when the type is not known, all of them may apply.
    raw_type = _text(facts.get("lender_type"))
    binding = kb.lender_type(raw_type)["rules"] if raw_type in kb.lender_types else None
    # A letter with `recipients` goes where the lender's type complains to.
    route = {}
    if cfg.get("recipients") and lender_type:
        channel_key = kb.lender_type(lender_type).get("complaint_channel")
        route = cfg["recipients"].get(channel_key, {})
    shown = {
        key: (value if value else PLACEHOLDER) for key, value in values.items() if isinstance(value, str)
    }
    shown["lender_type_label"] = kb.lender_type(lender_type)["label"] if lender_type else PLACEHOLDER
    shown["relation_label"] = (
        (rules.person_label(kb, relation, None) if relation and not is_borrower else "借款人本人")
        if relation
        else PLACEHOLDER
    )
    # The regulator named by the user beats the generic one from the route.
    shown["regulator"] = _text(facts.get("regulator_name")) or route.get("recipient") or PLACEHOLDER
    context = {
        "v": shown,
        "P": PLACEHOLDER,
        "kind": kind,
        "is_borrower": is_borrower,
        "third_party": third_party,
        # What the author may ask for depends on who they are (§11.7, §11.9):
        # a guarantor may lawfully be contacted, an heir answers up to the
        # estate; only someone outside the contract demands that contact stop.
        "stance": _stance(relation),
        "as_third_party": _stance(relation) == "third_party",
        # "I never agreed to pay" is untrue for a guarantor and no answer for an
        # heir or a spouse, whose liability depends on the estate or the court.
        "no_debt": third_party and relation not in ("guarantor", "heir", "spouse"),
        "numbers": numbers,
        "timeline": rules.timeline(incidents, kb, mask=False, author_relation=relation, self_word="本人"),
        "descriptions": _descriptions(incidents, keep, int(cfg.get("quote_limit") or MAX_QUOTE)),
        "breaches": _breach_lines(kb, list(breaches), binding),
        "breach_keys": {b.key for b in breaches},
        "evidence": _evidence_lines(evidence),
        "third_parties": _third_parties(facts),
        "agency": _text(facts.get("collection_agency")),
        "earlier_complaint": _text(facts.get("earlier_complaint")),
        "per_number": _per_number(incidents),
        "laws": _law_lines(kb, cfg.get("legal_basis") or []),
        "cite": lambda key: rules.citation(kb, key),
        "rule_names": [
            kb.collection_rules[r]["name"] for r in _letter_rules(cfg.get("rules") or [], binding)
        ],
        "deadline": cfg["response_deadline"]["text"],
        "channel": route.get("channel") or cfg.get("channel") or "",
        "recipient": cfg.get("recipient") or "",
    }
    return context, missing


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def render_letter(
    kind: str, facts: Mapping[str, Any] | None = None, kb: knowledge.Knowledge | None = None
) -> Letter:
    """Render one of ``KINDS`` from ``facts`` (see the module docstring).

    Missing facts appear as 【待填写】 and are listed in ``Letter.missing``;
    nothing is invented. Raises ``ValueError`` for an unknown kind.
    """
    kb = kb or knowledge.load()
    if kind not in kb.letters:
        raise ValueError(f"unknown letter kind {kind!r}; expected one of {tuple(kb.letters)}")
    context, missing = _context(kind, facts or {}, kb)
    body = _tidy(_environment().get_template(f"{kind}.j2").render(**context))
    cfg = kb.letter(kind)
    # Advice that goes with the letter in some cases (the knowledge file's `notes`).
    when = {"borrower": context["is_borrower"], "lender_type_missing": "lender_type" in missing}
    notes = [text for case, text in (cfg.get("notes") or {}).items() if when.get(case)]
    return Letter(
        kind=kind,
        title=cfg["title"],
        body=body,
        missing=missing,
        recipient=context["v"]["regulator"] if cfg.get("recipients") else context["recipient"],
        channel=context["channel"],
        notes=notes,
    )


def response_due(kind: str, submitted_on: date, kb: knowledge.Knowledge | None = None) -> date | None:
    """When an answer to a letter sent on ``submitted_on`` is due, if the
    knowledge file gives a number of days (for ``store.add_submission``)."""
    kb = kb or knowledge.load()
    deadline = kb.letter(kind)["response_deadline"]
    if isinstance(submitted_on, datetime):
        submitted_on = submitted_on.date()
    if deadline.get("working_days"):
        return _add_working_days(submitted_on, int(deadline["working_days"]))
    days = deadline.get("days")
    return submitted_on + timedelta(days=int(days)) if days else None


def _add_working_days(start: date, count: int) -> date | None:
    """``count`` working days after ``start`` by China's official calendar
    (holidays and make-up working weekends), or None past the years the
    calendar knows: then no date is stated rather than a guessed one."""
    day = start
    try:
        while count > 0:
            day += timedelta(days=1)
            count -= chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None
    return day
