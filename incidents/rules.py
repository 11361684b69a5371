"""Which collection rules an incident log shows were broken, and a short timeline.

Thresholds, rule names and laws come from ``incident_rules`` in the knowledge
file. A breach is only reported from what the user logged: a time given only
as a day ("前天") is never taken for a night call, a person we cannot place
("班主任") is not counted as a third party, and an attempt count is compared
with the guideline's wording ("不宜超过 6 次"), not called unlawful.

Incidents may be ``store.Incident`` objects or dicts with the same keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import knowledge
from incidents.phones import mask_phone, normalize_phone
from incidents.timeparse import part_label

# What a user may call themself when logging ("打给我").
SELF_WORDS = {"我", "本人", "我本人", "自己", "我自己", "self", "author"}
# Order of breaches in summaries and letters: the most serious first.
BEHAVIOUR_RULES = ("threats", "impersonation", "insults", "public_shaming", "extra_fees")
MAX_LINE_PERSON = 8
MAX_LINE = 60  # characters: one or two lines on a phone


@dataclass(frozen=True)
class Breach:
    """One rule the log shows was broken, and by which incidents."""

    key: str  # incident_rules key, e.g. "night_contact"
    label: str  # 深夜或清晨联系
    rule: str  # short rule name, e.g. 银行业协会2026年催收指引
    says: str  # what the rule asks, in one line
    laws: tuple[str, ...]  # keys of knowledge `laws`
    incident_ids: tuple[int, ...]
    count: int  # calls involved (attempts summed)
    day: date | None = None  # too_many_attempts: the day
    number: str | None = None  # too_many_attempts: the caller number
    people: tuple[str, ...] = field(default_factory=tuple)  # third_party_contact / per-person counts

    def summary(self, mask: bool = True) -> str:
        """One short line, e.g. "一天内联系次数过多：11月20日 138****5678 共 7 次"."""
        if self.key == "too_many_attempts":
            who = (
                (mask_phone(self.number) if mask else self.number)
                if self.number
                else "打给" + "、".join(self.people)
            )
            when = f"{self.day.month}月{self.day.day}日 " if self.day else ""
            return f"{self.label}：{when}{who} 共 {self.count} 次"
        if self.key == "third_party_contact" and self.people:
            return f"{self.label}：打给{'、'.join(self.people)}，共 {self.count} 次"
        return f"{self.label}：共 {self.count} 次"


def _get(incident: Any, name: str, default: Any = None) -> Any:
    if isinstance(incident, dict):
        return incident.get(name, default)
    return getattr(incident, name, default)


def citation(kb: knowledge.Knowledge, law_key: str) -> str:
    """``civil_code_1033`` → ``《民法典》第1033条``."""
    law = kb.laws[law_key]
    return f"《{law['law']}》{law['article']}"


def rule_name(kb: knowledge.Knowledge, rule_key: str) -> str:
    return kb.collection_rules[rule_key]["short"]


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _at_night(incident: Any, start: time, end: time) -> bool:
    occurred = _get(incident, "occurred_at")
    if not isinstance(occurred, datetime) or _get(incident, "time_precision") == "day":
        return False
    # Part-of-day values sit at representative hours chosen so that only
    # parts that are night by nature (凌晨, 夜里) fall inside the window.
    moment = occurred.time()
    return moment >= start or moment < end if start > end else start <= moment < end


def _attempts(incident: Any) -> int:
    try:
        return max(1, int(_get(incident, "attempts", 1) or 1))
    except (TypeError, ValueError):
        return 1


def relation_of(
    kb: knowledge.Knowledge, contacted: str | None, author_relation: str | None = None
) -> str | None:
    """The relation key of the person contacted ("母亲" → parent; "我" → the author's)."""
    if not contacted or not isinstance(contacted, str):
        return None
    text = contacted.strip()
    if text in SELF_WORDS and author_relation:
        return author_relation
    if text in kb.relations:
        return text
    return kb.resolve_relation(text)


def person_label(
    kb: knowledge.Knowledge, contacted: str | None, author_relation: str | None = None, self_word: str = "我"
) -> str:
    """How to name the person contacted in a short line: the user's own word
    ("母亲"), a relation label ("父母"), or ``self_word`` for the author."""
    if not contacted:
        return ""
    text = contacted.strip()
    if text in SELF_WORDS:
        return self_word
    if text in kb.relations:
        return self_word if text == author_relation else kb.relations[text]["label"]
    return text[:MAX_LINE_PERSON]


def check(
    incidents: Iterable[Any], kb: knowledge.Knowledge | None = None, *, author_relation: str | None = None
) -> list[Breach]:
    """The rules broken by these incidents, most serious first.

    ``author_relation`` (the user's relation key) says who "我"/"本人" is
    when the user logged a call to themself.
    """
    kb = kb or knowledge.load()
    cfg = kb.incident_rules
    items = [i for i in incidents if isinstance(_get(i, "occurred_at"), datetime)]
    items.sort(key=lambda i: (_get(i, "occurred_at"), _get(i, "id") or 0))
    breaches: list[Breach] = []

    def make(key: str, chosen: Sequence[Any], by_call: bool = True, **extra: Any) -> Breach:
        rule = cfg[key]
        return Breach(
            key=key,
            label=rule["label"],
            rule=rule_name(kb, rule["rule"]),
            says=rule["says"],
            laws=tuple(rule.get("laws") or ()),
            incident_ids=tuple(_get(i, "id") for i in chosen),
            # Times and people count every call; what was said counts per entry
            # ("连打了三次" with one threat is one threat).
            count=sum(_attempts(i) for i in chosen) if by_call else len(chosen),
            **extra,
        )

    for key in BEHAVIOUR_RULES[:2]:
        chosen = [i for i in items if key in (_get(i, "behaviours") or [])]
        if chosen and key in cfg:
            breaches.append(make(key, chosen, by_call=False))

    window = cfg["night_contact"]["window"]
    night = [i for i in items if _at_night(i, _clock(window["start"]), _clock(window["end"]))]
    if night:
        breaches.append(make("night_contact", night))

    breaches.extend(_too_many(items, kb, cfg, make, author_relation))

    exempt = set(cfg["third_party_contact"].get("exempt") or [])
    third: list[Any] = []
    people: list[str] = []
    for incident in items:
        contacted = _get(incident, "contacted_person")
        relation = relation_of(kb, contacted, author_relation)
        if relation and relation not in exempt and kb.relations.get(relation, {}).get("third_party"):
            third.append(incident)
            label = person_label(kb, contacted, author_relation, self_word="本人")
            if label not in people:
                people.append(label)
    if third:
        breaches.append(make("third_party_contact", third, people=tuple(people)))

    for key in BEHAVIOUR_RULES[2:]:
        chosen = [i for i in items if key in (_get(i, "behaviours") or [])]
        if chosen and key in cfg:
            breaches.append(make(key, chosen, by_call=False))
    return breaches


def _too_many(items, kb, cfg, make, author_relation) -> list[Breach]:
    rule = cfg["too_many_attempts"]
    limit = int(rule["max_per_day"])
    found: list[Breach] = []
    seen: set[tuple] = set()
    for field_name in rule.get("group_by") or ["contacted_person"]:
        groups: dict[tuple, list[Any]] = defaultdict(list)
        for incident in items:
            value = _get(incident, field_name)
            kind = field_name
            if field_name == "contacted_person" and not (isinstance(value, str) and value.strip()):
                # Who was called is not known: count per caller number instead.
                kind, value = "caller_number", _get(incident, "caller_number")
            if kind == "caller_number":
                # Only real numbers: "151开头" may be several different lines.
                value = normalize_phone(value).number if value else None
            else:
                value = relation_of(kb, value, author_relation) or (value or "").strip() or None
            if value:
                groups[(_get(incident, "occurred_at").date(), kind, value)].append(incident)
        for (day, kind, value), chosen in groups.items():
            ids = tuple(sorted(_get(i, "id") or 0 for i in chosen))
            if sum(_attempts(i) for i in chosen) <= limit or ids in seen:
                continue
            seen.add(ids)
            if kind == "caller_number":
                found.append(make("too_many_attempts", chosen, day=day, number=value))
            else:
                label = person_label(
                    kb, _get(chosen[0], "contacted_person"), author_relation, self_word="本人"
                )
                found.append(make("too_many_attempts", chosen, day=day, people=(label,)))
    return found


def _night_tag(incident: Any, kb: knowledge.Knowledge) -> str | None:
    cfg = kb.incident_rules["night_contact"]
    window = cfg["window"]
    if not _at_night(incident, _clock(window["start"]), _clock(window["end"])):
        return None
    hour = _get(incident, "occurred_at").hour
    return cfg["tags"]["early"] if 5 <= hour < 8 else cfg["tags"]["late"]


def when_text(incident: Any, show_year: bool = False) -> str:
    """The date and time as exact as the user was: "11月20日 22:40", "11月20日 晚上", "11月20日"."""
    occurred: datetime = _get(incident, "occurred_at")
    day = f"{occurred.year}年" if show_year else ""
    day += f"{occurred.month}月{occurred.day}日"
    precision = _get(incident, "time_precision") or "minute"
    if precision == "minute":
        return f"{day} {occurred:%H:%M}"
    if precision == "hour":
        return f"{day} {occurred.hour}点"
    if precision == "part_of_day":
        return f"{day} {part_label(occurred)}"
    return day


def timeline(
    incidents: Iterable[Any],
    kb: knowledge.Knowledge | None = None,
    *,
    mask: bool = True,
    author_relation: str | None = None,
    self_word: str = "我",
) -> list[str]:
    """One short dated line per incident, oldest first, for "show my log":
    ``"11月20日 22:40 · 138****5678 打给母亲 · 深夜来电、辱骂"``.

    Caller numbers are masked unless ``mask=False`` (letters to the lender,
    the regulator and the police need them in full). The year is shown when
    it differs from the latest incident's.
    """
    kb = kb or knowledge.load()
    items = [i for i in incidents if isinstance(_get(i, "occurred_at"), datetime)]
    items.sort(key=lambda i: (_get(i, "occurred_at"), _get(i, "id") or 0))
    if not items:
        return []
    latest_year = _get(items[-1], "occurred_at").year
    lines = []
    for incident in items:
        parts = [when_text(incident, _get(incident, "occurred_at").year != latest_year)]
        number = _get(incident, "caller_number")
        phone = normalize_phone(number) if number else None
        shown = number
        if phone and phone.valid:
            shown = mask_phone(phone.number) if mask else phone.number
        person = person_label(kb, _get(incident, "contacted_person"), author_relation, self_word)
        call = " ".join(p for p in [shown or "", f"打给{person}" if person else "来电"] if p)
        attempts = _attempts(incident)
        if attempts > 1:
            call += f" {attempts} 次"
        parts.append(call)
        tags = [t for t in [_night_tag(incident, kb)] if t]
        # With a time of day, the time itself says whether it was at night.
        timed = (_get(incident, "time_precision") or "minute") != "day"
        for key in _get(incident, "behaviours") or []:
            label = kb.behaviours.get(key, {}).get("label")
            if label and label not in tags and not (key == "night_calls" and timed):
                tags.append(label)
        line = " · ".join(parts)
        if tags:
            shown_tags = tags[:1]
            for tag in tags[1:]:
                if len(line) + len("、".join(shown_tags + [tag])) + 4 > MAX_LINE:
                    break
                shown_tags.append(tag)
            more = "等" if len(shown_tags) < len(tags) else ""
            line += " · " + "、".join(shown_tags) + more
        lines.append(line)
    return lines
