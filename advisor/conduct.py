"""What collectors did, read from the user's own words by rules (plain Python).

Each behaviour in the knowledge file (``behaviours``) has plain `patterns`
(the EntityRuler uses the same ones) and optional `regex` for phrasings with
words in between ("打到我孩子学校", "凌晨一点还在打"). Reading them by rules,
not by the model, means a retrain cannot make the bot stop answering a
report of what happened.
"""

from __future__ import annotations

import functools
import re

import knowledge
from nlu.text import normalize


@functools.lru_cache(maxsize=2)
def _compiled(key: int) -> dict[str, re.Pattern | None]:
    compiled: dict[str, re.Pattern | None] = {}
    for name, behaviour in knowledge.load().behaviours.items():
        parts = [re.escape(p) for p in behaviour.get("patterns", [])] + list(behaviour.get("regex", []))
        compiled[name] = re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None
    return compiled


# A report of what someone did, not only a question ("不还钱会坐牢吗").
_REPORTED = re.compile(
    r"催收|他们|对方|那边|那帮|打(了|电话|给|到|来)|说(要|我|他|她|不)|发(了|短信|消息)|又"
    r"|接(起来|了|到)|骂|问候|上门|找(到|上)|天天|每天|一直|总是|老是|让我|逼|短信|电话|消息"
)


def reports(text: str | None) -> bool:
    return bool(text) and _REPORTED.search(normalize(text)) is not None


def behaviours_in(text: str | None) -> list[str]:
    """The behaviours ``text`` reports, in the knowledge file's order."""
    if not text or text.startswith("/"):
        return []
    clean = normalize(text)
    patterns = _compiled(id(knowledge.load()))
    return [name for name, pattern in patterns.items() if pattern is not None and pattern.search(clean)]
