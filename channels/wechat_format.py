"""Rasa bot messages → WeChat text.

WeChat text replies have no buttons, no bubbles and a 2048-byte cap, so one
turn's messages are joined with blank lines, buttons become numbered lines
(the bot already understands "1", "2" as a choice: see actions/options.py),
and text over the cap is cut into chunks that never split a UTF-8 character.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from letters.message import is_letter, letter_text

MAX_BYTES = 2048
CHOICE_PROMPT = "回复数字选择："

# Preferred places to cut, best first: paragraph, line, end of a sentence.
_BREAKS = ("\n\n", "\n", "。", "！", "？", "；", "，", " ")


def _custom_text(custom: Any) -> list[str]:
    """Readable text of a custom JSON payload: its "title" and "text", if any."""
    if not isinstance(custom, dict):
        return []
    # dispatcher.utter_message(json_message={"custom": {...}}) nests one level deeper.
    if isinstance(custom.get("custom"), dict) and not (custom.get("title") or custom.get("text")):
        custom = custom["custom"]
    # A letter (letters/message.py) is its title and body; format_reply gives it texts of its own.
    if is_letter(custom):
        return [letter_text(custom)]
    return [str(custom[k]).strip() for k in ("title", "text") if isinstance(custom.get(k), str | int | float)]


def button_lines(buttons: Iterable[dict[str, Any]]) -> str:
    if not isinstance(buttons, list | tuple):
        return ""
    titles = [str(b.get("title") or b.get("payload") or "").strip() for b in buttons if isinstance(b, dict)]
    titles = [t for t in titles if t]
    if not titles:
        return ""
    return CHOICE_PROMPT + "\n" + "\n".join(f"{i} {title}" for i, title in enumerate(titles, 1))


def message_text(message: dict[str, Any]) -> str:
    """One collected bot message (CollectingOutputChannel's dict) as text."""
    parts: list[str] = []
    if isinstance(message.get("text"), str) and message["text"].strip():
        parts.append(message["text"].strip())
    parts.extend(_custom_text(message.get("custom")))
    for key in ("image", "attachment"):
        if isinstance(message.get(key), str) and message[key].strip():
            parts.append(message[key].strip())
    if message.get("buttons"):
        parts.append(button_lines(message["buttons"]))
    return "\n".join(p for p in parts if p)


def messages_to_text(messages: Iterable[dict[str, Any]]) -> str:
    """All of one turn's bot messages as one WeChat text, bubbles separated by a blank line."""
    return "\n\n".join(t for t in (message_text(m) for m in messages if isinstance(m, dict)) if t)


def _cut(text: str, limit: int) -> int:
    """Characters of ``text`` to put in the next chunk (at most ``limit`` UTF-8 bytes)."""
    # Decoding the byte prefix with errors="ignore" drops a character cut in half.
    fitting = len(text.encode("utf-8")[:limit].decode("utf-8", errors="ignore"))
    if fitting >= len(text):
        return len(text)
    head = text[:fitting]
    for mark in _BREAKS:
        at = head.rfind(mark)
        # A break too early would leave a tiny chunk; then cut mid-sentence instead.
        if at >= fitting // 2:
            return at + len(mark)
    return max(fitting, 1)


def split_utf8(text: str, limit: int = MAX_BYTES) -> list[str]:
    """``text`` in chunks of at most ``limit`` UTF-8 bytes, cut at a paragraph,
    line or sentence end where one is near, never inside a character."""
    chunks: list[str] = []
    # Lone surrogates (possible in JSON) cannot be sent as UTF-8 at all.
    rest = text.encode("utf-8", "replace").decode("utf-8").strip()
    while rest:
        at = _cut(rest, limit)
        chunk, rest = rest[:at].strip(), rest[at:].strip()
        if chunk:
            chunks.append(chunk)
    return chunks


def _is_letter_message(message: Any) -> bool:
    return isinstance(message, dict) and is_letter(message.get("custom"))


def format_reply(messages: Iterable[dict[str, Any]], limit: int = MAX_BYTES) -> list[str]:
    """A turn's bot messages as the WeChat texts to send, in order. A letter
    starts a text of its own, so that it can be copied from its first line."""
    texts: list[str] = []
    run: list[dict[str, Any]] = []
    for message in messages:
        if _is_letter_message(message):
            texts.extend(split_utf8(messages_to_text(run), limit))
            texts.extend(split_utf8(message_text(message), limit))
            run = []
        else:
            run.append(message)
    texts.extend(split_utf8(messages_to_text(run), limit))
    return texts


def cdata_safe(text: str) -> str:
    """``text`` that can sit inside <![CDATA[...]]> (wechatpy's replies put it there as is)."""
    return text.replace("]]>", "]]]]><![CDATA[>")
