"""Signed, expiring download links: one owner, one file, until a time.

A token is ``<expiry>.<signature>`` in URL-safe text, where the signature is
HMAC-SHA256 (standard library; itsdangerous is not in the lock) over the
owner key, the subject (a file id, ``pack`` or ``chart``) and the expiry, with the
secret in ``ANXIN_EVIDENCE_SECRET`` (``scripts/run.sh`` makes one per run, so
links die with a restart; every process of the scaled profile must be given
the same one). The owner key travels in the link's path beside the file id
(``/evidence/<owner key>/<file id>?t=<token>``): it is a hash, not the sender id.

Refused, each with a reason: a broken or forged token (``bad``), an expired
one (``expired``), one made for another owner or another file (``bad``:
the signature covers both, so there is nothing to tell apart, and nothing to
learn by trying).

Without the variable a random secret is made for this process (fine for
one process and for tests; a warning says so once).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass

ENV_SECRET = "ANXIN_EVIDENCE_SECRET"
DEFAULT_TTL = 24 * 3600  # seconds
MAX_TTL = 7 * 24 * 3600
MIN_SECRET = 16

log = logging.getLogger(__name__)
_fallback: bytes | None = None
_fallback_lock = threading.Lock()


class LinkRefused(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # bad | expired


@dataclass(frozen=True)
class Grant:
    owner: str  # owner key
    subject: str  # file id, "pack" or "chart"
    expires: int  # Unix time


def secret() -> bytes:
    value = os.environ.get(ENV_SECRET, "")
    if value:
        if len(value) < MIN_SECRET:
            raise RuntimeError(f"{ENV_SECRET} must be at least {MIN_SECRET} characters")
        return value.encode("utf-8")
    global _fallback
    with _fallback_lock:
        if _fallback is None:
            log.warning("%s is not set: evidence links work in this process only", ENV_SECRET)
            _fallback = secrets.token_bytes(32)
        return _fallback


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _signature(owner: str, subject: str, expires: int, key: bytes) -> str:
    message = f"anxin-evidence-link\n{owner}\n{subject}\n{expires}".encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def make_token(owner: str, subject: str, ttl: int = DEFAULT_TTL, *, now: float | None = None) -> str:
    """A token for ``owner`` (an owner key) to fetch ``subject`` within ``ttl`` seconds."""
    if not owner or not subject or "\n" in owner + subject:
        raise ValueError("owner and subject are required")
    ttl = max(1, min(int(ttl), MAX_TTL))
    expires = int((time.time() if now is None else now) + ttl)
    return f"{expires}.{_signature(owner, subject, expires, secret())}"


def verify(token: object, owner: str, subject: str, *, now: float | None = None) -> Grant:
    """The grant if ``token`` was made for this owner and subject and has not
    expired; ``LinkRefused`` otherwise. Compares in constant time."""
    if not isinstance(token, str) or len(token) > 200 or token.count(".") != 1:
        raise LinkRefused("bad")
    expires_text, signature = token.split(".")
    if not expires_text.isdigit() or not owner or not subject:
        raise LinkRefused("bad")
    expires = int(expires_text)
    expected = _signature(owner, subject, expires, secret())
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", errors="replace")):
        raise LinkRefused("bad")
    if (time.time() if now is None else now) >= expires:
        raise LinkRefused("expired")
    return Grant(owner, subject, expires)


def link_path(owner: str, subject: str, ttl: int = DEFAULT_TTL, *, now: float | None = None) -> str:
    """The path part of a download link (the channel puts its own address in front)."""
    return f"/evidence/{owner}/{subject}?t={make_token(owner, subject, ttl, now=now)}"


# -- one path segment: what the web routes take (/webhooks/evidence/file/<token>) ------------------


# What a link may name besides one file: both are built from the sender's incident
# log, kept by sender id, so their links carry it sealed (``seal_sender``).
SEALED_KINDS = ("pack", "chart")


def _pack_key() -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(b"anxin-evidence-pack\n" + secret()).digest())


def seal_sender(sender_id: str) -> str:
    """The sender id encrypted and authenticated (Fernet) for a pack or chart link: both
    need the incident log, kept by sender id; the link must not show it."""
    from cryptography.fernet import Fernet

    return Fernet(_pack_key()).encrypt(sender_id.encode("utf-8")).decode("ascii")


def open_sender(sealed: str) -> str:
    from cryptography.fernet import Fernet, InvalidToken

    try:
        return Fernet(_pack_key()).decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError, UnicodeError):
        raise LinkRefused("bad") from None


def make_path_token(
    owner: str,
    subject: str,
    ttl: int = DEFAULT_TTL,
    *,
    sender_id: str | None = None,
    now: float | None = None,
) -> str:
    """``<owner>.<subject>.<expiry>.<signature>[.<sealed sender>]``: one URL path segment
    (owner keys are hex, file ids and signatures URL-safe base64, none has a dot)."""
    if "." in owner or "." in subject:
        raise ValueError("owner and subject must not contain dots")
    token = f"{owner}.{subject}.{make_token(owner, subject, ttl, now=now)}"
    return f"{token}.{seal_sender(sender_id)}" if sender_id is not None else token


def verify_path_token(
    value: object, subject_kind: str = "file", *, now: float | None = None
) -> tuple[Grant, str | None]:
    """The grant of a path token (and the sender id it seals, for a pack or a chart); ``LinkRefused``
    for anything forged, changed, for another owner or file, or expired."""
    if not isinstance(value, str) or len(value) > 600:
        raise LinkRefused("bad")
    parts = value.split(".")
    if len(parts) not in (4, 5):
        raise LinkRefused("bad")
    owner, subject, expires, signature = parts[:4]
    # A pack's link does not open a chart, nor a file's link either of them.
    if subject_kind in SEALED_KINDS and subject != subject_kind:
        raise LinkRefused("bad")
    if subject_kind not in SEALED_KINDS and subject in SEALED_KINDS:
        raise LinkRefused("bad")
    grant = verify(f"{expires}.{signature}", owner, subject, now=now)
    sender = None
    if subject_kind in SEALED_KINDS:
        if len(parts) != 5:
            raise LinkRefused("bad")
        sender = open_sender(parts[4])
        from evidence.store import owner_key

        if owner_key(sender) != owner:
            raise LinkRefused("bad")
    return grant, sender
