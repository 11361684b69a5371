"""The evidence pack: one .zip for the police, a notary or a regulator.

Inside (ASCII names, so every unzip tool shows them the same):

- ``timeline.docx``: the numbered entries (``incidents.rules.timeline``,
  numbers in full as in the letters), the evidence files of each entry, the
  rules the log shows were broken (``incidents.rules.check``) with their
  entry numbers, the chart, and the list of files with their SHA-256;
- ``chart.png`` (``evidence.chart``);
- ``files/NN_<received, Beijing time>.<ext>``: every evidence file, bytes as received;
- ``manifest.json``: per file its SHA-256, size, type, receive time (UTC and
  Beijing), source channel, description and linked entry numbers; the
  generated files' hashes too;
- ``README.txt``: in Chinese, how to check a hash (sha256sum, certutil) and
  what to bring to the police or a notary (UTF-8 with a BOM, so Windows
  Notepad shows it right).

Words come from ``messages.yml`` (``pack``).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from docx import Document
from docx.shared import Inches

import knowledge
from evidence.chart import render_chart
from evidence.store import BEIJING, EvidenceFile
from evidence.texts import messages
from incidents import rules
from letters.docx_export import _set_font

KIND_WORDS = {"image": "图片", "audio": "录音"}


def _get(item: Any, name: str, default: Any = None) -> Any:
    return item.get(name, default) if isinstance(item, dict) else getattr(item, name, default)


def file_name(number: int, record: EvidenceFile) -> str:
    return f"files/{number:02d}_{record.received_beijing:%Y%m%d-%H%M%S}.{record.extension}"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _timeline_docx(
    entries: list[Any],
    lines: list[str],
    names: dict[str, str],
    files: list[EvidenceFile],
    numbers: dict[int, int],
    breaches: list[rules.Breach],
    chart: bytes,
    kb: knowledge.Knowledge,
    now: datetime,
) -> bytes:
    words = messages()["pack"]
    document = Document()
    _set_font(document.styles["Normal"], 11)
    document.core_properties.title = words["docx_title"]
    title = document.add_paragraph()
    run = title.add_run(words["docx_title"])
    run.bold = True
    _set_font(run, 16)
    document.add_paragraph(words["generated"].format(when=f"{now:%Y年%m月%d日 %H:%M}"))

    document.add_heading(words["entries_heading"], level=2)
    for number, (entry, line) in enumerate(zip(entries, lines, strict=True), 1):
        document.add_paragraph(f"{number}. {line}")
        description = (_get(entry, "description") or "").strip()
        if description:
            document.add_paragraph(f"　{description}")
        linked = [names[f.id] for f in files if _get(entry, "id") in f.incident_ids]
        if linked:
            document.add_paragraph(words["evidence_line"].format(files="、".join(linked)))

    document.add_heading(words["breaches_heading"], level=2)
    if not breaches:
        document.add_paragraph(words["no_breaches"])
    for breach in breaches:
        shown = [str(numbers[i]) for i in breach.incident_ids if i in numbers]
        laws = "；".join(rules.citation(kb, law) for law in breach.laws if law in kb.laws)
        document.add_paragraph(
            words["breach_line"].format(
                label=breach.summary(mask=False),
                entries="、".join(shown),
                says=breach.says,
                rule=breach.rule,
                laws=f"；{laws}" if laws else "",
            )
        )
    document.add_picture(io.BytesIO(chart), width=Inches(6))
    document.add_paragraph(words["chart_caption"])

    document.add_heading(words["files_heading"], level=2)
    for record in files:
        document.add_paragraph(
            words["file_line"].format(
                name=names[record.id],
                kind=KIND_WORDS.get(record.kind, record.kind),
                size=record.size,
                sha256=record.sha256,
                received=f"{record.received_beijing:%Y-%m-%d %H:%M:%S}",
                description=f"，{record.description}" if record.description else "",
            )
        )
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def build_pack(
    incidents: Iterable[Any],
    files: Iterable[EvidenceFile],
    read: Callable[[EvidenceFile], bytes],
    kb: knowledge.Knowledge | None = None,
    *,
    author_relation: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """The .zip as bytes. ``read`` gives a file's bytes (``EvidenceStore.read``),
    each checked against its SHA-256 there."""
    kb = kb or knowledge.load()
    now = (now or datetime.now(UTC)).astimezone(BEIJING)
    entries = sorted(
        (i for i in incidents if isinstance(_get(i, "occurred_at"), datetime)),
        key=lambda i: (_get(i, "occurred_at"), _get(i, "id") or 0),
    )
    lines = rules.timeline(entries, kb, mask=False, author_relation=author_relation)
    numbers = {_get(entry, "id"): n for n, entry in enumerate(entries, 1)}
    breaches = rules.check(entries, kb, author_relation=author_relation)
    records = sorted(files, key=lambda f: (f.received_at, f.id))
    names = {record.id: file_name(n, record) for n, record in enumerate(records, 1)}
    chart = render_chart(entries, kb, author_relation=author_relation)
    timeline = _timeline_docx(entries, lines, names, records, numbers, breaches, chart, kb, now)
    note = messages()["pack"]["note"]

    manifest: dict[str, Any] = {
        "generated_at": now.isoformat(timespec="seconds"),
        "hash_algorithm": "SHA-256",
        "entries": len(entries),
        "files": [],
        "generated_files": [
            {"name": "timeline.docx", "sha256": _sha(timeline), "size": len(timeline)},
            {"name": "chart.png", "sha256": _sha(chart), "size": len(chart)},
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("timeline.docx", timeline)
        archive.writestr("chart.png", chart)
        for record in records:
            data = read(record)
            # Images and recordings are compressed already: stored as they are.
            archive.writestr(names[record.id], data, compress_type=zipfile.ZIP_STORED)
            manifest["files"].append(
                {
                    "name": names[record.id],
                    "sha256": _sha(data),
                    "size": len(data),
                    "type": record.file_type,
                    "mime": record.mime,
                    "kind": record.kind,
                    "received_at_utc": record.received_at.astimezone(UTC).isoformat(timespec="seconds"),
                    "received_at_beijing": record.received_beijing.isoformat(timespec="seconds"),
                    "source": record.channel,
                    "description": record.description,
                    "linked_entries": sorted(numbers[i] for i in record.incident_ids if i in numbers),
                    "duration_seconds": record.duration,
                }
            )
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.writestr("README.txt", "\ufeff" + note.replace("\n", "\r\n"))
    return buffer.getvalue()


def build_pack_for(user_id: str, incident_store: Any, evidence_store: Any, **kwargs: Any) -> bytes:
    """The pack of one user, from the two stores."""
    return build_pack(
        incident_store.list(user_id), evidence_store.list(user_id), evidence_store.read, **kwargs
    )
