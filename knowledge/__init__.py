"""Loader for the one knowledge file (``knowledge/anxin.yml``).

Everything the bot says about the law, phone numbers, channels and lenders is
read from that file, so operators can correct facts without touching Python.
This module is the ground floor: it imports nothing else from the project.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KNOWLEDGE_FILE = Path(os.environ.get("ANXIN_KNOWLEDGE_FILE", Path(__file__).with_name("anxin.yml")))

# Hedge words must accompany any statement built on a 【C】 fact.
CONFIDENCE_LEVELS = ("A", "B", "C")


@dataclass(frozen=True)
class Lender:
    key: str
    legal_name: str
    type: str
    regulator: str
    hotline: str | None
    products: list[str]
    note: str | None
    confidence: str
    intro: str | None = None  # a platform's own introduction (it lends nothing itself)
    intro_facts: tuple[str, ...] = ()  # facts that say who really lends (花呗/借呗)


class Knowledge:
    """Typed access to the knowledge file."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._alias_index = self._build_alias_index()

    # -- raw sections -------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        return self.data["meta"]

    @property
    def hedges(self) -> list[str]:
        return list(self.data.get("hedges", []))

    @property
    def laws(self) -> dict[str, dict[str, Any]]:
        return self.data["laws"]

    @property
    def channels(self) -> dict[str, dict[str, Any]]:
        return self.data["channels"]

    @property
    def facts(self) -> dict[str, dict[str, Any]]:
        return self.data["facts"]

    @property
    def relations(self) -> dict[str, dict[str, Any]]:
        return self.data["relations"]

    @property
    def behaviours(self) -> dict[str, dict[str, Any]]:
        return self.data["behaviours"]

    @property
    def faq(self) -> dict[str, list[str]]:
        return self.data["faq"]

    @property
    def lenders(self) -> dict[str, dict[str, Any]]:
        """The raw ``lenders`` entries by key (``lender(key)`` gives a typed one)."""
        return self.data["lenders"]

    def is_lender(self, key: Any) -> bool:
        """Whether ``key`` is a lender of the knowledge file (``unknown`` included)."""
        return isinstance(key, str) and key in self.lenders

    @property
    def lender_types(self) -> dict[str, dict[str, Any]]:
        return self.data["lender_types"]

    @property
    def collection_rules(self) -> dict[str, dict[str, Any]]:
        """The collection rulebooks (``rules``: guidelines and standards), by key."""
        return self.data["rules"]

    @property
    def incident_rules(self) -> dict[str, Any]:
        """What the incident log checks (``incident_rules``)."""
        return self.data["incident_rules"]

    @property
    def intent_rules(self) -> dict[str, str]:
        """Regexes that correct the intent classifier (``intent_rules``)."""
        return self.data["intent_rules"]

    @property
    def liability_questions(self) -> dict[str, Any]:
        """How a "do I have to pay?" question is recognised (``liability_questions``)."""
        return self.data["liability_questions"]

    @property
    def question_topics(self) -> dict[str, dict[str, Any]]:
        """Topics read by rules and the FAQs that answer them (``question_topics``)."""
        return self.data["question_topics"]

    @property
    def safety_patterns(self) -> dict[str, Any]:
        """The safety layer's patterns (``safety``)."""
        return self.data.get("safety") or {}

    @property
    def segmentation_words(self) -> list[str]:
        """Extra words for jieba (``segmentation_words``)."""
        return list(self.data.get("segmentation_words", []))

    @property
    def letters(self) -> dict[str, dict[str, Any]]:
        """The letter types by kind, in menu order (``letters``; letters/registry.py)."""
        return self.data["letters"]

    @property
    def letter_match_order(self) -> list[str]:
        """The order in which letter types' trigger words are tried (most specific first)."""
        return list(self.data.get("letter_match_order") or self.letters)

    def letter(self, kind: str) -> dict[str, Any]:
        """What letter ``kind`` is sent to, how, on what basis (``letters``)."""
        return self.letters[kind]

    def submission_channel(self, text: str) -> tuple[str, str | None]:
        """Where a complaint the user reports went, read from ``text``: (the
        channel as the record shows it, the letter kind), or ("", None)."""
        for entry in self.data.get("submission_channels", []):
            if str(entry["word"]) in text:
                return str(entry["channel"]), entry["kind"]
        return "", None

    def default_liability(self, third_party: bool) -> list[str]:
        """Facts answering "do I have to pay?" for a role without its own:
        someone only being contacted (``third_party``), or a role not known."""
        return list(self.data["default_liability"]["third_party" if third_party else "unknown"])

    def wording(self, key: str, **values: Any) -> str:
        """A sentence of the bot's that states something about the law or a
        lender (``wording``), with ``values`` filled in."""
        return self.data["wording"][key].format(**values)

    # -- facts --------------------------------------------------------------
    def fact(self, key: str, variant: str | None = None) -> str:
        """The user-facing text of one fact, or of one of its ``variants``
        (the same fact worded for another place)."""
        if variant:
            return self.facts[key]["variants"][variant]
        return self.facts[key]["text"]

    def fact_texts(self, keys: Iterable[str]) -> list[str]:
        return [self.fact(k) for k in keys]

    def faq_caveats(self, key: str) -> list[str]:
        """Facts sent after FAQ ``key`` (the exceptions to its rule)."""
        return list(self.data.get("faq_caveats", {}).get(key, []))

    @property
    def third_party_faqs(self) -> set[str]:
        """FAQs answered for someone only being contacted (see the knowledge file)."""
        return set(self.data.get("third_party_faqs", []))

    def faq_answer(self, key: str) -> str:
        """The FAQ reply for ``faq/<key>``: its facts as one short message."""
        return "\n".join(self.fact_texts(self.faq[key]))

    # -- numbers ------------------------------------------------------------
    def sayable_numbers(self) -> set:
        """Phone numbers the bot is allowed to read out."""
        return {k for k, v in self.channels.items() if v.get("say_number") and k.isdigit()}

    def cited_articles(self) -> set:
        """Articles (e.g. ``第465条``) the bot may cite."""
        return {law["article"] for law in self.laws.values()}

    # -- lenders and relations ---------------------------------------------
    def _build_alias_index(self) -> dict[str, tuple]:
        index: dict[str, tuple] = {}
        for key, lender in self.lenders.items():
            for alias in lender.get("aliases", []):
                index[alias.lower()] = ("lender", key)
        for key, rel in self.relations.items():
            for alias in rel.get("aliases", []):
                index.setdefault(alias.lower(), ("relation", key))
        return index

    def lender(self, key: str) -> Lender:
        raw = self.lenders[key]
        return Lender(
            key=key,
            legal_name=raw["legal_name"],
            type=raw["type"],
            regulator=raw["regulator"],
            hotline=raw.get("hotline"),
            products=list(raw.get("products", [])),
            note=raw.get("note"),
            confidence=raw["confidence"],
            intro=raw.get("intro"),
            intro_facts=tuple(raw.get("intro_facts", [])),
        )

    def lender_label(self, key: str) -> str:
        """How to name a lender to the user: its products ("花呗/借呗"), else its legal name."""
        raw = self.lenders.get(key) or {}
        return "/".join(raw.get("products") or []) or raw.get("legal_name") or key

    def resolve_lender(self, text: str | None) -> str | None:
        """Map a product or company mention to a lender key.

        Exact alias first, then the longest alias contained in the text, so
        "我欠了支付宝借呗" resolves to the Ant consumer-finance company.
        """
        return self._resolve(text, "lender", self.lenders)

    def resolve_relation(self, text: str | None) -> str | None:
        """Map "我是他妈妈" / "同事" / "本人" to a relation key."""
        return self._resolve(text, "relation", self.relations)

    def _resolve(self, text: str | None, kind: str, section: dict) -> str | None:
        if not text:
            return None
        needle = text.strip().lower()
        if needle in section:
            return needle
        hit = self._alias_index.get(needle)
        if hit and hit[0] == kind:
            return hit[1]
        best: tuple | None = None
        for key, entry in section.items():
            for alias in entry.get("aliases", []):
                if alias.lower() in needle and (best is None or len(alias) > best[0]):
                    best = (len(alias), key)
        return best[1] if best else None

    def rulebook(self, lender_key: str | None) -> str:
        """The collection rules that bind this lender's type (§11.10: a
        micro-loan company is not bound by the bank association's guideline)."""
        lenders = self.lenders
        type_key = lenders.get(lender_key or "unknown", lenders["unknown"])["type"]
        return self.lender_type(type_key)["rulebook"]

    def breaks(self, behaviour: str, lender_key: str | None = None, rulebook: str | None = None) -> str:
        """Which rule a behaviour breaks, citing the rules for this lender
        (or ``rulebook``, e.g. a short name explained once below a list)."""
        return self.behaviours[behaviour]["breaks"].format(rulebook=rulebook or self.rulebook(lender_key))

    def lender_type(self, type_key: str) -> dict[str, Any]:
        return self.lender_types[type_key]

    def complaint_steps(self, lender_key: str | None) -> list[str]:
        """The complaint ladder for a lender, in order, numbers filled in."""
        lender = self.lender(lender_key or "unknown")
        routes = self.data["complaint_routes"]
        steps: list[str] = []
        if lender.type != "unknown":
            if lender.hotline:
                steps.append(routes["_with_hotline_first"].format(hotline=lender.hotline))
            else:
                steps.append(routes["_lender_first"])
        steps.extend(routes[lender.type])
        return steps

    @property
    def find_lender_steps(self) -> list[str]:
        return list(self.data["find_lender_steps"])

    @property
    def complaint_prepare(self) -> str:
        return self.data["complaint_prepare"]


ARTICLE_LIKE = re.compile(r"第[0-9一二三四五六七八九十百千]+条(?:之[一二三四五六七八九十])?")
# Things that contain digits but are not phone numbers (360借条 is an app).
_NOT_PHONE = re.compile(
    r"\d+(?:借条|借款)|第[0-9]+条|\d{1,2}:\d{2}|\d{4}-\d{1,2}-\d{1,2}|\d{4}\s*年|GB/T\s*[\d.-]+|\d+\s*(次|个|天|日|月|年|元|万|小时|分钟|%|岁)"
)
_PHONE_LIKE = re.compile(r"(?<![\d])\+?\d[\d -]*\d(?![\d])")


def phone_numbers_in(text: str) -> set:
    """Every phone-number-like digit run in ``text`` (3+ digits, dashes removed)."""
    text = _NOT_PHONE.sub(" ", text or "")
    found = set()
    for match in _PHONE_LIKE.findall(text):
        digits = re.sub(r"[ -]", "", match)
        if len(digits) >= 3:
            found.add(digits)
    return found


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Knowledge:
    with open(path, encoding="utf-8") as handle:
        return Knowledge(yaml.safe_load(handle))


def load(path: Path | None = None) -> Knowledge:
    """Load (and cache until the file changes) the knowledge file."""
    target = Path(path or KNOWLEDGE_FILE)
    return _load(str(target), target.stat().st_mtime)
