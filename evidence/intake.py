"""One way in for an evidence file, whichever channel brought it (issue #15).

``take_in`` is what every channel does with a file before the bot hears of it:

1. check it (evidence/files.py: the real type from its bytes, the size, the pixels);
2. store it unchanged under its sender (evidence/store.py, with the channel's name);
3. for a screenshot, read it by OCR off the event loop (evidence/ocr.py) and turn
   what was read into proposed entries and a summary (evidence/extract.py).

It returns the stored record and ``evidence``, the dict the bot gets as the
``evidence`` metadata of ``/evidence_received`` (``evidence_message`` builds that
message; actions/evidence.py reads it and asks before logging anything).

Used by channels/evidence.py (web uploads) and channels/wechat.py (image
messages). A refused file raises ``files.Refused`` (``message`` is the sentence
for the user), a store that fails raises ``NotStored``; either way nothing stored
before is touched. A screenshot OCR cannot read is kept, with nothing proposed.

Logs carry the refusal reason, the kind, the size, the channel and ``who`` (a
hash of the sender the caller made): never the bytes, a file name, what OCR read
or the sender id itself.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evidence import extract, files
from evidence import store as evidence_store

logger = logging.getLogger(__name__)

EVIDENCE_RECEIVED = "/evidence_received"  # the intent the bot gets for a stored file


class NotStored(RuntimeError):
    """The file passed its check but could not be stored (database or disk)."""


@dataclass(frozen=True)
class Taken:
    """A stored file and what the bot is told about it."""

    record: evidence_store.EvidenceFile
    evidence: dict[str, Any]


def plain(entry: dict[str, Any]) -> dict[str, Any]:
    """A proposed entry as JSON (times as ISO text: it travels in a slot)."""
    return {
        key: (value.isoformat() if isinstance(value, datetime) else value) for key, value in entry.items()
    }


async def read_image(data: bytes, received: datetime) -> tuple[list[dict[str, Any]], str]:
    """The proposed entries and the summary for a screenshot; OCR runs off the loop."""
    from evidence import ocr  # onnxruntime is heavy: loaded once the first image arrives

    result = await ocr.read_lines_async(data)
    reading = extract.read(result, now=received)
    return [plain(entry) for entry in extract.proposed_entries(reading)], extract.summary(reading)


async def take_in(
    data: bytes,
    sender: str,
    *,
    channel: str,
    who: str,
    filename: str | None = None,
    mime: str | None = None,
    description: str = "",
    store: evidence_store.EvidenceStore | None = None,
) -> Taken:
    """Check, store and (for an image) read one file of ``sender``.

    ``filename`` and ``mime`` are only what the sender claims: the type is read
    from the bytes. ``who`` names the sender in logs (a hash, never the id).
    """
    if store is None:  # the process's store; made on first use, which touches the database
        store = await asyncio.to_thread(evidence_store.get_store)
    try:
        checked = await asyncio.to_thread(files.check, data, filename, mime)
    except files.Refused as refused:
        logger.info("evidence.refused reason=%s channel=%s sender=%s", refused.reason, channel, who)
        raise
    try:
        record = await asyncio.to_thread(
            store.add, sender, data, checked, channel=channel, description=description
        )
    except Exception as exc:
        # The type only: a database error could quote the row it failed on.
        logger.error("evidence.store.failed channel=%s error=%s", channel, type(exc).__name__)
        raise NotStored(type(exc).__name__) from None
    logger.info(
        "evidence.stored kind=%s size=%d channel=%s sender=%s", record.kind, record.size, channel, who
    )
    evidence: dict[str, Any] = {"file_id": record.id, "kind": record.kind, "proposed": [], "summary": ""}
    if description:
        evidence["description"] = description
    if record.kind == "image":
        try:
            received = record.received_beijing.replace(tzinfo=None)
            evidence["proposed"], evidence["summary"] = await read_image(data, received)
        except Exception as exc:  # the file is kept; the bot asks the user to say what it shows
            logger.warning("evidence.ocr.failed channel=%s error=%s", channel, type(exc).__name__)
    return Taken(record, evidence)


def evidence_message(
    sender: str,
    evidence: dict[str, Any],
    output_channel: Any,
    input_channel: str,
    message_id: str | None = None,
) -> Any:
    """The ``/evidence_received`` message for the bot, the file's facts in its metadata.

    It goes to Rasa's own callback, not through channels/guard.py, whose
    sanitiser defuses a typed "/intent" (so no user can send this one by typing it).
    """
    from rasa.core.channels.channel import UserMessage

    return UserMessage(
        text=EVIDENCE_RECEIVED,
        output_channel=output_channel,
        sender_id=sender,
        input_channel=input_channel,
        message_id=message_id,
        metadata={"evidence": evidence},
    )
