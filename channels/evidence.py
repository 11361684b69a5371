"""Evidence uploads and downloads for the web chat (issue #15), at /webhooks/evidence/...

- ``POST /webhooks/evidence/upload`` (multipart: ``file``, ``sender``, optional
  ``description``, one line): the body is read as a stream and refused past
  ``MAX_BODY`` (20 MB + a margin for the form) with 413, whatever Sanic's own
  cap (``SANIC_REQUEST_MAX_SIZE``, 1 MiB without an API token) says; then
  evidence/intake.py (shared with the WeChat channel) checks the file
  (evidence/files.py), stores it with its hash (evidence/store.py, channel
  ``web``) and reads an image by OCR off the event loop into proposed entries;
  then the bot gets ``/evidence_received`` for that sender with the proposal in
  the message's metadata (actions/evidence.py shows it and asks before logging
  anything). Answer: ``{"file": {...}, "messages": [...]}``. A refused file:
  400 / 413 / 415 with ``{"error": <sentence for the user>}``; nothing stored
  is touched.
- ``GET /webhooks/evidence/file/<token>``, ``GET /webhooks/evidence/pack/<token>``
  and ``GET /webhooks/evidence/chart/<token>``: one file, the evidence pack
  (.zip), or the PNG chart of the sender's logged calls (evidence/chart.py,
  shown inline by the web chat), for a signed, expiring link
  (evidence/links.py ``make_path_token``); anything else is 403.

Guarded as the other channels: per-sender rate limit (channels/ratelimit.py,
shared with them), browser pages only from ``ANXIN_CORS_ORIGIN``
(channels/socketio.py), at most ``MAX_FILES_AT_ONCE`` uploads of one sender
at a time in a process (429 above). ``/evidence_received`` goes to Rasa
directly, not through channels/payloads.py (which would defuse it as typed
text): a user typing it in another channel still gets it defused.

Logs name neither the file, its bytes, its name, nor what OCR read; the
sender only as a hash.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.guard import AtOnce, OnNewMessage, allowed, read_capped_body
from channels.ratelimit import sender_key
from channels.socketio import allowed_origins
from evidence import files, intake, links
from evidence import store as evidence_store
from evidence.texts import text
from privacy import logs as privacy_logs

logger = logging.getLogger(__name__)

CHANNEL = "web"  # what the store records as the file's source
MAX_BODY = files.MAX_BYTES + 256 * 1024  # the file, plus the form around it
MAX_SENDER = 128
MAX_DESCRIPTION = 200
STATUS = {"too_big": 413, "not_allowed": 415, "pdf": 415, "heic": 415, "mismatch": 415}


def error(message: str, status: int) -> HTTPResponse:
    return response.json({"error": message}, status=status, ensure_ascii=False)


def refusal(refused: files.Refused) -> HTTPResponse:
    return error(refused.message, STATUS.get(refused.reason, 400))


def one_line(value: Any, limit: int = MAX_DESCRIPTION) -> str:
    value = value if isinstance(value, str) else ""
    return " ".join(value.split())[:limit]


def verified_link(token: str, kind: str) -> tuple[Any, Any] | HTTPResponse:
    """The grant and sender of a signed link of ``kind``, or the 403 that refuses it."""
    try:
        return links.verify_path_token(token, kind)
    except links.LinkRefused as refused:
        logger.info("evidence.link.refused reason=%s", refused.reason)
        return error(text(f"web.link_{refused.reason}"), 403)


def file_json(record: evidence_store.EvidenceFile) -> dict[str, Any]:
    return {
        "id": record.id,
        "sha256": record.sha256,
        "size": record.size,
        "type": record.file_type,
        "kind": record.kind,
        "received_at_beijing": record.received_beijing.isoformat(timespec="seconds"),
    }


class EvidenceInput(InputChannel):
    """Uploads (web chat) and signed downloads of evidence files and the pack."""

    @classmethod
    def name(cls) -> str:
        return "evidence"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def __init__(self, store: evidence_store.EvidenceStore | None = None, incident_store: Any = None) -> None:
        self._store = store
        self._incidents = incident_store
        self._uploading = AtOnce()

    @property
    def store(self) -> evidence_store.EvidenceStore:
        return self._store or evidence_store.get_store()

    @property
    def incidents(self) -> Any:
        if self._incidents is not None:
            return self._incidents
        from incidents.store import get_store

        return get_store()

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        privacy_logs.install()
        blueprint = Blueprint("evidence_webhook", __name__)
        origins = allowed_origins()

        @blueprint.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        # stream=True: Sanic's app-wide cap is lifted for this route, ours applies,
        # and an oversized body is refused without being read whole.
        @blueprint.route("/upload", methods=["POST"], stream=True)
        async def upload(request: Request) -> HTTPResponse:
            origin = (request.headers.get("origin") or "").rstrip("/")
            if origin and origins is not None and origin not in origins:
                logger.info("evidence.refused reason=origin")
                return error(text("web.origin"), 403)
            body = await read_capped_body(request, MAX_BODY)
            if body is None:
                logger.info("evidence.refused reason=too_big")
                return refusal(files.refuse("too_big"))
            request.body = body
            form, uploaded = request.form, request.files
            sender = one_line(form.get("sender"), MAX_SENDER)
            if not sender:
                return error(text("web.no_sender"), 400)
            who = sender_key(self.name(), sender)
            if not await allowed(who):
                logger.info("evidence.rate_limited sender=%s", who)
                return error(text("web.rate_limited"), 429)
            item = uploaded.get("file") if uploaded else None
            if item is None:
                return error(text("web.no_file"), 400)
            with self._uploading.slot(who, files.MAX_FILES_AT_ONCE) as free:
                if not free:
                    logger.info("evidence.refused reason=too_many sender=%s", who)
                    return error(files.refuse("too_many").message, 429)
                return await self._receive(
                    on_new_message, sender, who, item, one_line(form.get("description"))
                )

        @blueprint.route("/file/<token>", methods=["GET"])
        async def download_file(request: Request, token: str) -> HTTPResponse:
            checked = verified_link(token, "file")
            if isinstance(checked, HTTPResponse):
                return checked
            grant, _ = checked
            store = self.store
            record = await asyncio.to_thread(store.get_for_owner, grant.owner, grant.subject)
            if record is None:
                return error(text("web.file_missing"), 404)
            try:
                data = await asyncio.to_thread(store.read, record)
            except evidence_store.Tampered:
                logger.warning("evidence.file.tampered")
                return error(text("web.file_missing"), 410)
            return _attachment(data, record.mime, f"evidence-{record.id}.{record.extension}")

        @blueprint.route("/pack/<token>", methods=["GET"])
        async def download_pack(request: Request, token: str) -> HTTPResponse:
            checked = verified_link(token, "pack")
            if isinstance(checked, HTTPResponse):
                return checked
            _, sender = checked
            from evidence.pack import build_pack_for

            try:
                data = await asyncio.to_thread(build_pack_for, sender, self.incidents, self.store)
            except evidence_store.Tampered:
                logger.warning("evidence.pack.tampered")
                return error(text("web.file_missing"), 410)
            day = datetime.now(evidence_store.BEIJING).strftime("%Y%m%d")
            return _attachment(data, "application/zip", f"anxin-evidence-{day}.zip")

        @blueprint.route("/chart/<token>", methods=["GET"])
        async def chart(request: Request, token: str) -> HTTPResponse:
            checked = verified_link(token, "chart")
            if isinstance(checked, HTTPResponse):
                return checked
            _, sender = checked
            from evidence.chart import render_chart

            entries = await asyncio.to_thread(self.incidents.list, sender)
            png = await asyncio.to_thread(render_chart, entries)
            # Inline (an <img> in the chat), never cached: it shows one person's calls.
            return response.raw(
                png,
                content_type="image/png",
                headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
            )

        return blueprint

    async def _receive(
        self, on_new_message: OnNewMessage, sender: str, who: str, item: Any, description: str
    ) -> HTTPResponse:
        try:
            taken = await intake.take_in(
                item.body or b"",
                sender,
                channel=CHANNEL,
                who=who,
                filename=item.name,
                mime=item.type,
                description=description,
                store=self.store,
            )
        except files.Refused as refused:
            return refusal(refused)
        except intake.NotStored:
            return error(text("web.failed"), 500)
        collector = CollectingOutputChannel()
        await on_new_message(intake.evidence_message(sender, taken.evidence, collector, self.name()))
        return response.json(
            {"file": file_json(taken.record), "messages": collector.messages}, ensure_ascii=False
        )


def _attachment(data: bytes, mime: str, filename: str) -> HTTPResponse:
    return response.raw(
        data,
        content_type=mime,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
