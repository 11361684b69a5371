"""A letter as the one message it travels in.

The action sends this dict as a custom payload (``json_message``) and nothing
else for the letter itself. Channels render it: WeChat as the title and body
in texts within its byte cap (channels/wechat_format.py), the web chat as a
card with copy and Word download (web/chat.js). A plain REST client reads
``custom.title`` and ``custom.body``.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from letters import registry
from letters.docx_export import to_docx_bytes
from letters.render import Letter

TYPE = "letter"


def letter_message(letter: Letter, today: date) -> dict[str, Any]:
    return {
        "type": TYPE,
        "kind": letter.kind,
        "label": registry.label(letter.kind),
        "title": letter.title,
        "body": letter.body,
        "filename": f"{letter.title}-{today:%Y%m%d}.docx",
        "docx_base64": base64.b64encode(to_docx_bytes(letter)).decode("ascii"),
        "missing": letter.missing_labels,
    }


def is_letter(custom: Any) -> bool:
    return isinstance(custom, dict) and custom.get("type") == TYPE and isinstance(custom.get("body"), str)


def letter_text(custom: dict[str, Any]) -> str:
    """A letter message as plain text: its title, a blank line, its body."""
    title = str(custom.get("title") or "").strip()
    body = str(custom.get("body") or "").strip()
    return f"{title}\n\n{body}" if title else body
