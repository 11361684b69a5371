"""Uploads: real type from the bytes, and a clear refusal for every bad input (issue #15 §6)."""

import io
import struct
import wave

import pytest
from PIL import Image

from evidence import files
from evidence.files import Refused, check, sniff


def image_bytes(fmt: str, size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


def wav_bytes(seconds: float = 1.5, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(rate * seconds))
    return buffer.getvalue()


def box(name: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), name) + body


def m4a_bytes(seconds: int = 95) -> bytes:
    mvhd = box(b"mvhd", b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, 1000, seconds * 1000) + b"\x00" * 80)
    return box(b"ftyp", b"M4A \x00\x00\x00\x00M4A mp42isom") + box(b"moov", mvhd) + box(b"mdat", b"\x01" * 500)


def amr_bytes(frames: int = 150) -> bytes:
    frame = bytes([7 << 3 | 4]) + b"\x00" * 31  # mode 7 (12.2 kbit/s): 31 bytes after the header
    return b"#!AMR\n" + frame * frames


MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 400
AAC = b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 400


@pytest.mark.parametrize(
    "data, name, mime, expected",
    [
        (image_bytes("JPEG"), "a.jpg", "image/jpeg", "jpg"),
        (image_bytes("PNG"), "Screenshot.png", "image/png", "png"),
        (image_bytes("WEBP"), "x.webp", None, "webp"),
        (wav_bytes(), "call.wav", "audio/wav", "wav"),
        (m4a_bytes(), "录音.m4a", "audio/x-m4a", "m4a"),
        (amr_bytes(), "rec.amr", None, "amr"),
        (MP3, "rec.mp3", "audio/mpeg", "mp3"),
        (AAC, "rec.aac", None, "aac"),
    ],
)
def test_allowed_types_are_recognised_from_their_bytes(data, name, mime, expected):
    checked = check(data, name, mime)
    assert checked.file_type == expected and checked.size == len(data)
    assert checked.kind == ("image" if expected in files.IMAGE_TYPES else "audio")
    assert checked.declared is None


def test_image_size_and_audio_durations_are_read_where_the_format_says_them():
    assert (check(image_bytes("PNG", (1080, 2400))).width, check(image_bytes("PNG", (1080, 2400))).height) == (1080, 2400)
    assert check(wav_bytes(1.5), "a.wav").duration == 1.5
    assert check(m4a_bytes(95), "a.m4a").duration == 95
    assert check(amr_bytes(150), "a.amr").duration == 3.0
    # No tag library in the lock: MP3 and AAC durations are not guessed.
    assert check(MP3, "a.mp3").duration is None and check(AAC, "a.aac").duration is None


def test_a_png_saved_as_jpg_is_taken_as_what_it_really_is():
    checked = check(image_bytes("PNG"), "IMG_0001.jpg", "image/jpeg")
    assert checked.file_type == "png" and checked.mime == "image/png" and checked.declared == "jpg"


def refusal(data, name=None, mime=None) -> Refused:
    with pytest.raises(Refused) as caught:
        check(data, name, mime)
    return caught.value


def test_every_bad_input_gets_its_own_clear_chinese_answer():
    pdf = b"%PDF-1.7\n" + b"0" * 2000
    answers = {
        "empty": refusal(b"", "a.jpg"),
        "too_big": refusal(b"\xff\xd8\xff" + b"\x00" * (50 * 1024 * 1024), "big.jpg"),
        "pdf": refusal(pdf, "截图.jpg", "image/jpeg"),
        "mismatch": refusal(wav_bytes(), "photo.jpg", "image/jpeg"),
        "not_allowed": refusal(b"GIF89a" + b"\x00" * 100, "a.gif"),
        "heic": refusal(box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic") + b"\x00" * 100, "IMG.HEIC"),
    }
    for reason, refused in answers.items():
        assert refused.reason == reason
        assert "之前保存的证据都还在" in refused.message  # nothing already recorded is lost
    assert "20 MB" in answers["too_big"].message
    assert "PDF" in answers["pdf"].message
    assert "改" in answers["mismatch"].message
    # Same kind of bytes under an unknown name: not a mismatch but not taken either.
    assert refusal(b"hello world, not a picture", "notes.txt").reason == "not_allowed"
    # Declared an image, bytes of nothing we know: it is not what it says.
    assert refusal(b"hello world, not a picture", "a.png").reason == "mismatch"


def test_a_decompression_bomb_is_refused_from_its_header():
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, "PNG")  # 400 MP in well under 1 MB
    assert len(buffer.getvalue()) < 2 * 1024 * 1024
    refused = refusal(buffer.getvalue(), "bomb.png")
    assert refused.reason == "bomb" and "像素" in refused.message
    wide = io.BytesIO()
    Image.new("L", (10000, 6000)).save(wide, "PNG")  # 60 MP: over the 50 MP cap, under Pillow's own
    assert refusal(wide.getvalue(), "wide.png").reason == "bomb"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_image_is_refused(fmt):
    data = image_bytes(fmt, (400, 300))
    noisy = io.BytesIO()
    Image.effect_noise((400, 300), 80).convert("RGB").save(noisy, fmt)
    data = noisy.getvalue()
    refused = refusal(data[: len(data) * 2 // 3], "x." + fmt.lower())
    assert refused.reason == "truncated" and "不完整" in refused.message


def test_truncated_audio_is_refused_where_the_format_tells():
    assert refusal(wav_bytes(2)[:4000], "a.wav").reason == "truncated"
    assert refusal(m4a_bytes()[:-100], "a.m4a").reason == "truncated"
    assert refusal(amr_bytes()[:-10], "a.amr").reason == "truncated"


def test_the_size_cap_can_be_checked_before_the_body_is_read():
    files.check_size(files.MAX_BYTES)
    with pytest.raises(Refused):
        files.check_size(files.MAX_BYTES + 1)


def test_too_many_at_once_has_an_answer_for_the_channels():
    refused = files.refuse("too_many")
    assert str(files.MAX_FILES_AT_ONCE) in refused.message and "之前保存的证据都还在" in refused.message


def test_sniff_tells_mp3_from_adts_aac():
    assert sniff(b"\xff\xfb\x90\x64" + b"\x00" * 10) == "mp3"
    assert sniff(AAC) == "aac"
    assert sniff(b"") is None
