"""jieba segmentation that keeps the domain's words whole.

jieba alone splits 借呗 into 借/呗 and 爆通讯录 into 爆/通讯录; the EntityRuler and
the intent classifier work better on whole domain words. The word list is built
from the knowledge file (aliases, behaviour patterns, ``segmentation_words``),
so it grows with the knowledge and needs no separate dictionary file.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

import jieba

import knowledge

jieba.setLogLevel(logging.WARNING)

_lock = threading.Lock()
_loaded: set[str] = set()


def domain_words(kb: knowledge.Knowledge | None = None) -> list[str]:
    kb = kb or knowledge.load()
    words: set[str] = set(kb.segmentation_words)
    for lender in kb.lenders.values():
        words.update(lender.get("aliases", []))
    for relation in kb.relations.values():
        words.update(relation.get("aliases", []))
    for behaviour in kb.behaviours.values():
        words.update(behaviour.get("patterns", []))
    # Single characters would only disturb jieba's own statistics.
    return sorted(str(w) for w in words if len(str(w)) > 1)


def ensure_domain_words(words: Iterable[str] | None = None) -> None:
    """Teach jieba the domain words (idempotent, thread-safe)."""
    words = list(words) if words is not None else domain_words()
    with _lock:
        for word in words:
            if word not in _loaded:
                # A high frequency makes jieba prefer the whole word.
                jieba.add_word(word, freq=200000)
                _loaded.add(word)


# Digit runs (phone numbers, 12378, times like 22:40) stay one token: jieba's
# statistics would split 13812345678 into 138/12345/678.
_NUMBER_RUN = re.compile(r"\+?\d+(?:[-:]\d+)*")


def cut(text: str) -> list[str]:
    """Segment ``text`` into words, keeping domain words and numbers whole.

    The pieces concatenate back to ``text`` exactly (white space included),
    which spaCy needs to align tokens with characters.
    """
    ensure_domain_words()
    words: list[str] = []
    position = 0
    for match in _NUMBER_RUN.finditer(text):
        if match.start() > position:
            words.extend(w for w in jieba.cut(text[position : match.start()]) if w)
        words.append(match.group())
        position = match.end()
    if position < len(text):
        words.extend(w for w in jieba.cut(text[position:]) if w)
    return words
