"""Is an upload what it says it is? Checked before anything is stored.

The real type comes from the file's first bytes (magic numbers), never from
its name or the browser's word for it. Refused, each with a sentence for the
user (``messages.yml``, ``refusals``):

- 0 bytes (``empty``), more than ``MAX_BYTES`` (``too_big``);
- a type we do not take (``not_allowed``; a PDF or an iPhone HEIC photo get
  their own sentence: ``pdf``, ``heic``);
- an image declared as audio or audio declared as an image (``mismatch``).
  Another format of the same kind is taken and stored as what it really is:
  phone galleries and WeChat often save a PNG screenshot under ``.jpg``;
- more than ``MAX_PIXELS`` pixels (``bomb``: a few KB of PNG can unpack to
  gigabytes), checked from the header before any pixel is decoded;
- a cut-off upload (``truncated``) or a file no decoder can read (``unreadable``).

The duration of a recording is read where the format says it plainly: WAV
(the standard library), M4A (the ``mvhd`` box) and AMR (its fixed-size
frames). MP3 and AAC keep ``duration=None``: without a tag library in the
lock (mutagen is not) a guess from the first frame's bit rate could be wrong,
and nothing is invented.

Nothing here logs; the file's name and bytes are never put in a message.
"""

from __future__ import annotations

import io
import struct
import warnings
import wave
from dataclasses import dataclass
from pathlib import PurePosixPath

from PIL import Image

from evidence.texts import text

MAX_BYTES = 20 * 1024 * 1024
# A 50-megapixel phone photo passes (8160×6120); a screenshot is 2–4 MP.
MAX_PIXELS = 50_000_000
MAX_FILES_AT_ONCE = 5

IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
AUDIO_TYPES = {
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "amr": "audio/amr",
    "wav": "audio/wav",
    "aac": "audio/aac",
}
ALLOWED = {**IMAGE_TYPES, **AUDIO_TYPES}

# What a name or a browser may call each type.
_EXTENSIONS = {
    "jpg": "jpg",
    "jpeg": "jpg",
    "jfif": "jpg",
    "png": "png",
    "webp": "webp",
    "m4a": "m4a",
    "mp4": "m4a",
    "mp3": "mp3",
    "amr": "amr",
    "wav": "wav",
    "wave": "wav",
    "aac": "aac",
    "pdf": "pdf",
    "heic": "heic",
    "heif": "heic",
}
_MIMES = {
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/amr": "amr",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/aac": "aac",
    "audio/x-aac": "aac",
    "application/pdf": "pdf",
    "image/heic": "heic",
    "image/heif": "heic",
}
_PIL_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}


def kind_of(file_type: str | None) -> str | None:
    """``"png"`` → ``"image"``, ``"amr"`` → ``"audio"``, anything else → ``None``."""
    if file_type in IMAGE_TYPES:
        return "image"
    if file_type in AUDIO_TYPES:
        return "audio"
    return None


@dataclass(frozen=True)
class Checked:
    """An upload that passed: its real type and what could be read from it."""

    file_type: str  # key of ALLOWED
    mime: str
    kind: str  # image | audio
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds, audio only, when the format says it
    declared: str | None = None  # what the name or MIME type said, when it differed

    @property
    def extension(self) -> str:
        return self.file_type


class Refused(ValueError):
    """An upload refused; ``message`` is the sentence for the user."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


def refuse(reason: str) -> Refused:
    values = {"max_mb": MAX_BYTES // (1024 * 1024), "max_megapixels": MAX_PIXELS // 1_000_000}
    values["max_files"] = MAX_FILES_AT_ONCE
    message = text(f"refusals.{reason}", **values) + text("refusals.kept")
    return Refused(reason, message)


# -- the real type -----------------------------------------------------------

_FTYP_AUDIO = {b"M4A ", b"M4B ", b"mp41", b"mp42", b"isom", b"iso2", b"iso5", b"3gp4", b"3gp5", b"3gp6", b"dash"}
_FTYP_HEIC = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif"}


def sniff(data: bytes) -> str | None:
    """The real type from the first bytes: a key of ``ALLOWED``, ``"pdf"``,
    ``"heic"``, or ``None`` for anything else."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"#!AMR"):
        return "amr"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_HEIC:
            return "heic"
        if brand in _FTYP_AUDIO:
            return "m4a"
        return None
    if head.startswith(b"ID3"):
        return "mp3"
    if head.startswith(b"ADIF"):
        return "aac"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        layer = (head[1] >> 1) & 0x03
        # MPEG audio frame: layer bits 01/10/11 are MP3 (or MP2/MP1); 00 with the
        # 0xFFF sync is AAC in ADTS frames.
        if layer == 0 and head[1] & 0xF0 == 0xF0:
            return "aac"
        if layer != 0:
            return "mp3"
    return None


def declared_type(filename: str | None = None, mime: str | None = None) -> str | None:
    """What the name's extension or the MIME type claims, as a type key."""
    if mime:
        claimed = _MIMES.get(mime.split(";")[0].strip().lower())
        if claimed:
            return claimed
    if filename:
        suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower().lstrip(".")
        return _EXTENSIONS.get(suffix, suffix or None)
    return None


# -- checks --------------------------------------------------------------------


def check_size(size: int | None) -> None:
    """Refuse early from a Content-Length, before the body is read."""
    if size is not None and size > MAX_BYTES:
        raise refuse("too_big")


def check(data: bytes, filename: str | None = None, mime: str | None = None) -> Checked:
    """Check one upload; returns what it is, or raises ``Refused``."""
    if not data:
        raise refuse("empty")
    check_size(len(data))
    real = sniff(data)
    claimed = declared_type(filename, mime)
    if real in ("pdf", "heic"):
        raise refuse(real)
    if real is None:
        # A known kind declared, but the bytes are something else entirely.
        raise refuse("mismatch" if kind_of(claimed) else "not_allowed")
    if claimed is not None and kind_of(claimed) != kind_of(real):
        raise refuse("mismatch")
    declared = claimed if claimed and claimed != real else None
    if real in ("webp", "wav") and struct.unpack("<I", data[4:8])[0] + 8 > len(data):
        # The RIFF header says how long the file is; less arrived.
        raise refuse("truncated")
    if kind_of(real) == "image":
        width, height = _check_image(data, real)
        return Checked(real, ALLOWED[real], "image", len(data), width, height, declared=declared)
    return Checked(real, ALLOWED[real], "audio", len(data), duration=_duration(data, real), declared=declared)


def _check_image(data: bytes, file_type: str) -> tuple[int, int]:
    fmt = _PIL_FORMATS[file_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
        width, height = image.size
    except Image.DecompressionBombError:
        raise refuse("bomb") from None
    except (OSError, SyntaxError, ValueError, struct.error):
        # The header itself is cut off or broken.
        raise refuse("truncated" if len(data) < 64 else "unreadable") from None
    if width <= 0 or height <= 0:
        raise refuse("unreadable")
    if width * height > MAX_PIXELS:
        raise refuse("bomb")
    try:
        if file_type == "png":
            # Reads every chunk and checks its CRC without decoding pixels; a
            # missing end chunk means the upload was cut off.
            image.verify()
        else:
            if file_type == "jpg":
                # Decode at 1/8 scale: every byte is still read, a fraction of the memory.
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    except OSError as exc:
        raise refuse("truncated" if "truncat" in str(exc).lower() or file_type == "webp" else "unreadable") from None
    except (SyntaxError, ValueError, struct.error, EOFError):
        raise refuse("truncated") from None
    finally:
        image.close()
    return width, height


# -- audio duration --------------------------------------------------------------


def _duration(data: bytes, file_type: str) -> float | None:
    try:
        if file_type == "wav":
            return _wav_duration(data)
        if file_type == "m4a":
            return _m4a_duration(data)
        if file_type == "amr":
            return _amr_duration(data)
    except Refused:
        raise
    except (wave.Error, EOFError, struct.error, ValueError, OSError):
        raise refuse("unreadable") from None
    return None


def _wav_duration(data: bytes) -> float | None:
    with wave.open(io.BytesIO(data)) as wav:
        frames, rate = wav.getnframes(), wav.getframerate()
        expected = frames * wav.getnchannels() * wav.getsampwidth()
        # The data chunk said how long it is; fewer bytes arrived: cut off.
        if len(wav.readframes(frames)) < expected:
            raise refuse("truncated")
    return round(frames / rate, 2) if rate else None


def _boxes(data: bytes, start: int, end: int):
    offset = start
    while offset + 8 <= end:
        size, name = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header:
            return
        yield name, offset + header, min(offset + size, end), offset + size > end
        offset += size


def _m4a_duration(data: bytes) -> float | None:
    duration: float | None = None
    media = False
    for name, body, end, cut in _boxes(data, 0, len(data)):
        if cut:
            # A box says it is longer than what arrived.
            raise refuse("truncated")
        media = media or name in (b"mdat", b"moof")
        if name != b"moov":
            continue
        for inner, ibody, _iend, _icut in _boxes(data, body, end):
            if inner == b"mvhd":
                version = data[ibody]
                if version == 1:
                    timescale, length = struct.unpack(">IQ", data[ibody + 20 : ibody + 32])
                else:
                    timescale, length = struct.unpack(">II", data[ibody + 12 : ibody + 20])
                duration = round(length / timescale, 2) if timescale else None
    if not media:
        raise refuse("truncated")
    return duration


# Bytes per AMR frame (after its one-byte header), by frame type; each frame is 20 ms.
_AMR_NB = (12, 13, 15, 17, 19, 20, 26, 31, 5, 0, 0, 0, 0, 0, 0, 0)
_AMR_WB = (17, 23, 32, 36, 40, 46, 50, 58, 60, 5, 0, 0, 0, 0, 0, 0)


def _amr_duration(data: bytes) -> float | None:
    if data.startswith(b"#!AMR-WB\n"):
        sizes, offset = _AMR_WB, 9
    elif data.startswith(b"#!AMR\n"):
        sizes, offset = _AMR_NB, 6
    else:
        return None
    frames = 0
    while offset < len(data):
        frame_type = (data[offset] >> 3) & 0x0F
        offset += 1 + sizes[frame_type]
        frames += 1
    if offset > len(data):
        raise refuse("truncated")
    return round(frames * 0.02, 2)
