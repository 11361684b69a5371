"""Reading a user's report that a complaint was sent ("昨天打了12378，工单号 A123")."""

from __future__ import annotations

import re

# A report of something already sent: past tense, or a case number.
_SENT = re.compile(
    r"(投诉|提交|举报|报警|报案|寄|打|递交|反映)(了|过)|已(经)?(投诉|提交|举报|报警|报案|寄出)|工单|编号|受理|回执"
)
_REFERENCE = re.compile(
    r"(?:工单号|单号|编号|受理号|回执号|流水号|查询码)[是为:：\s]*(?P<ref>[A-Za-z0-9-]{3,40})"
)


def reports_sending(text: str | None) -> bool:
    """Whether ``text`` says a complaint was sent (not just names a channel)."""
    return _SENT.search(text or "") is not None


def reference_in(text: str | None) -> str | None:
    """The case or ticket number the user gave, if any."""
    match = _REFERENCE.search(text or "")
    return match["ref"] if match else None
