"""Is a message about danger? The safety layer's detector (plain Python).

Three kinds, each with its own reply (knowledge ``facts.safety_*``):

- ``despair``: the user's own despair, suicidal thoughts, plans or self-harm;
- ``crisis_other``: someone else (a parent, child, spouse, colleague) is;
- ``threat``: violence or threats of violence against the user or family.

The patterns live in the knowledge file (``safety``), so operators extend them
without touching Python. Ordinary exaggerations (烦死了, 死活不接, 打死也不还)
are blanked out first. A despair pattern is about someone else when the
nearest person named before it is not the user: "我妈说她不想活了" is
``crisis_other``, "我妈天天被骂 我不想活了" is ``despair``.

Built for recall: any one pattern is enough (``make safety-eval`` measures
recall and false alarms on the project's safety sets).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import knowledge
from nlu.text import normalize

DESPAIR = "despair"
CRISIS_OTHER = "crisis_other"
THREAT = "threat"
KINDS = (DESPAIR, CRISIS_OTHER, THREAT)

# Which intent the NLU gives each kind (domain/safety.yml).
INTENT_OF_KIND = {kind: f"safety_{kind}" for kind in KINDS}
KIND_OF_INTENT = {intent: kind for kind, intent in INTENT_OF_KIND.items()}

# Someone other than the user, as people name them; "我妈" is the mother, not "我".
_OTHER_PERSON = (
    r"(?:我|俺|咱)?(?:家)?(?:妈妈|妈|爸爸|爸|老妈|老爸|母亲|父亲|老公|老婆|丈夫|妻子|媳妇|爱人|对象|男朋友|女朋友|"
    r"儿子|女儿|闺女|孩子|小孩|哥哥|哥|姐姐|姐|弟弟|弟|妹妹|妹|同事|朋友|室友|同学|舅舅|舅|姨|叔叔|叔|姑姑|姑|"
    r"爷爷|奶奶|外公|外婆|姥姥|姥爷|公公|婆婆|岳父|岳母|邻居|老人|家人|家里人|父母|爸妈|兄弟|闺蜜|领导|员工|"
    r"老娘|娘|老豆|老窦|阿爸|阿妈|阿母|阿爹|老头|老汉儿|老汉|娭毑|姐夫|妹夫|嫂子|大伯|伯伯|老伴|老太太|老爷子|"
    r"孙子|孙女|外甥|侄子|侄女|表哥|表姐|表妹|表弟|堂哥|堂姐|发小|亲戚|舍友|前夫|前妻)"
    r"|(?:他|她)(?!们)"
)
# "跟我说/给我发消息" names the user as the listener, not the one in danger.
_SELF = r"(?<![跟对给和告诉问找叫让冲朝向])我(?!们|家|的)|俺(?!们|家)|本人"
_MARKER = re.compile(f"(?P<other>{_OTHER_PERSON})|(?P<self>{_SELF})")
# Sentence ends; a run of spaces is how many people type a full stop.
_CLAUSE_END = re.compile(r"[。！？!?；;，,\s]+")


@dataclass(frozen=True)
class Danger:
    kind: str
    matched: str  # the words that fired, for tests and the evaluation script

    @property
    def intent(self) -> str:
        return INTENT_OF_KIND[self.kind]


class SafetyDetector:
    """Compiled patterns from the knowledge file's ``safety`` section."""

    def __init__(self, section: dict[str, Any]) -> None:
        self.benign = _compile(section.get("benign"))
        self.patterns = {kind: _compile(section.get(kind)) for kind in KINDS}
        needs = section.get("model_needs")
        self.model_needs = re.compile(needs) if needs else None

    def model_may_flag(self, text: str) -> bool:
        """Whether the NLU model's own safety guess may stand for ``text``:
        it names something dangerous-sounding that is not an exaggeration."""
        clean = normalize(text or "")
        if self.benign:
            clean = self.benign.sub(" ", clean)
        return self.model_needs is None or self.model_needs.search(clean) is not None

    def detect(self, text: str | None) -> Danger | None:
        """The danger a message names, or None. Threats of violence win over
        despair only when no despair is named (12356 must never be lost)."""
        if not text or text.startswith("/"):
            return None  # button payloads say exactly what they mean
        clean = normalize(text)
        if self.benign:
            clean = self.benign.sub(" ", clean)
        other = self._search(CRISIS_OTHER, clean)
        if other:
            return Danger(CRISIS_OTHER, other.group(0))
        despair = self.patterns[DESPAIR]
        if despair:
            found = [m for m in despair.finditer(clean)]
            if found:
                for match in found:
                    if _about_someone_else(clean, match.start()):
                        return Danger(CRISIS_OTHER, match.group(0))
                return Danger(DESPAIR, found[0].group(0))
        threat = self._search(THREAT, clean)
        if threat:
            return Danger(THREAT, threat.group(0))
        return None

    def _search(self, kind: str, text: str) -> re.Match | None:
        pattern = self.patterns[kind]
        return pattern.search(text) if pattern else None


def _compile(patterns: list[str] | None) -> re.Pattern | None:
    patterns = [p for p in patterns or [] if p]
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _about_someone_else(text: str, at: int) -> bool:
    """Whether the nearest person named before ``at`` is someone other than
    the user: first in the words' own clause, then anywhere before it."""
    before = text[:at]
    clauses = _CLAUSE_END.split(before)
    own = clauses[-1] if clauses else ""
    for scope in (own, before):
        markers = list(_MARKER.finditer(scope))
        if markers:
            return markers[-1].group("other") is not None
    return False


@functools.lru_cache(maxsize=1)
def _detector(key: int) -> SafetyDetector:
    return SafetyDetector(knowledge.load().safety_patterns)


def detector() -> SafetyDetector:
    """The detector for the current knowledge file (rebuilt when it changes)."""
    return _detector(id(knowledge.load()))


def detect(text: str | None) -> Danger | None:
    return detector().detect(text)
