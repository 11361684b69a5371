"""The letter types, read from the one place they are defined: the knowledge
file's ``letters`` section (label, trigger words, required facts, recipient,
channel, legal basis, deadline) and ``letter_match_order``.

Everything else is derived here: the menu, which words pick a letter, and
which form slots a letter needs. The domain's letter menu is generated from
this module (scripts/build_domain_responses.py → domain/letters_generated.yml).
"""

from __future__ import annotations

from dataclasses import dataclass

import knowledge

# Which form slot supplies each required fact, in the order the form asks:
# the lender first (what a complaint is about), then who writes, then the
# borrower. A fact without a slot (collector numbers, incidents, evidence,
# date, lender type) comes from the log or the lender entry.
FORM_SLOTS: tuple[tuple[str, str], ...] = (
    ("letter_police_station", "police_station"),
    ("lender", "lender_name"),
    ("letter_lender_name", "lender_name"),
    ("user_role", "author_relation"),
    ("letter_author_name", "author_name"),
    ("letter_author_phone", "author_phone"),
    ("letter_borrower_name", "borrower_name"),
)


@dataclass(frozen=True)
class LetterType:
    kind: str
    label: str
    words: tuple[str, ...]
    requires: tuple[str, ...]

    @property
    def form_slots(self) -> tuple[str, ...]:
        """The form slots this letter needs, in the order the form asks."""
        return tuple(slot for slot, fact in FORM_SLOTS if fact in self.requires)

    @property
    def menu_payload(self) -> str:
        """What the menu button sends: the request in words, read by ``kind_in``."""
        return f"写{self.label}"


def _load(kb: knowledge.Knowledge) -> tuple[LetterType, ...]:
    return tuple(
        LetterType(
            kind=kind,
            label=str(entry["label"]),
            words=tuple(str(word) for word in entry.get("words", [])),
            requires=tuple(entry["requires"]),
        )
        for kind, entry in kb.letters.items()
    )


def letter_types(kb: knowledge.Knowledge | None = None) -> tuple[LetterType, ...]:
    """Every letter type, in menu order."""
    return _load(kb or knowledge.load())


def kinds(kb: knowledge.Knowledge | None = None) -> tuple[str, ...]:
    return tuple(t.kind for t in letter_types(kb))


def get(kind: str, kb: knowledge.Knowledge | None = None) -> LetterType:
    for letter_type in letter_types(kb):
        if letter_type.kind == kind:
            return letter_type
    raise KeyError(f"unknown letter kind {kind!r}")


def label(kind: str, kb: knowledge.Knowledge | None = None) -> str:
    return get(kind, kb).label


def kind_in(text: str, kb: knowledge.Knowledge | None = None) -> str | None:
    """The letter a request asks for ("帮我写报警材料" → police_statement), or None."""
    kb = kb or knowledge.load()
    by_kind = {t.kind: t for t in letter_types(kb)}
    order = [k for k in kb.letter_match_order if k in by_kind]
    order += [k for k in by_kind if k not in order]
    for kind in order:
        if any(word in text for word in by_kind[kind].words):
            return kind
    return None
