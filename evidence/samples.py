"""Phone screens drawn with Pillow and a CJK font, for the tests and ``scripts/bench_ocr.py``.

They look like what people send: a 1080×2400 call log (a status bar, a title,
date header rows, rows of number + status + time) and an SMS conversation
(the sender's number on top, centred timestamps, grey bubbles). Every number
in them is made up.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from evidence.fonts import cjk_font_path

WIDTH, HEIGHT = 1080, 2400
GREY = (120, 120, 120)
BLACK = (20, 20, 20)
RED = (230, 50, 50)


@dataclass(frozen=True)
class Call:
    number: str  # as shown, e.g. "138 1234 5678", or a contact name
    status: str  # 未接 / 呼入 / 呼出 / ""
    clock: str  # "23:10"
    count: int = 1


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(cjk_font_path(), size)


def _status_bar(draw: ImageDraw.ImageDraw, clock: str = "09:41") -> None:
    small = _font(34)
    draw.text((48, 28), clock, font=small, fill=BLACK)
    draw.text((WIDTH - 150, 28), "87%", font=small, fill=BLACK)


def call_log(sections: list[tuple[str, list[Call]]], clock: str = "09:41") -> Image.Image:
    """A call-log screen: ``[("11月20日", [Call(...), ...]), ...]``."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    _status_bar(draw, clock)
    draw.text((48, 130), "通话记录", font=_font(64), fill=BLACK)
    big, middle, small = _font(52), _font(40), _font(36)
    y = 260
    for header, calls in sections:
        draw.rectangle((0, y, WIDTH, y + 80), fill=(242, 242, 242))
        draw.text((48, y + 18), header, font=small, fill=GREY)
        y += 110
        for call in calls:
            shown = call.number + (f" ({call.count})" if call.count > 1 else "")
            colour = RED if call.status == "未接" else BLACK
            draw.text((48, y), shown, font=big, fill=colour)
            if call.status:
                draw.text((600, y + 8), call.status, font=middle, fill=GREY)
            draw.text((WIDTH - 48 - draw.textlength(call.clock, font=middle), y + 8), call.clock, font=middle, fill=GREY)
            y += 90
            draw.line((48, y, WIDTH - 48, y), fill=(230, 230, 230), width=2)
            y += 40
    return image


def sms(sender: str, messages: list[tuple[str, list[str]]], clock: str = "09:41") -> Image.Image:
    """An SMS conversation: ``sender`` on top, then ``[(timestamp, [bubble text, ...]), ...]``."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    _status_bar(draw, clock)
    title = _font(52)
    draw.text(((WIDTH - draw.textlength(sender, font=title)) / 2, 130), sender, font=title, fill=BLACK)
    draw.line((0, 230, WIDTH, 230), fill=(220, 220, 220), width=2)
    stamp_font, body = _font(34), _font(44)
    y = 290
    per_line = 17  # characters per bubble line
    for stamp, bubbles in messages:
        draw.text(((WIDTH - draw.textlength(stamp, font=stamp_font)) / 2, y), stamp, font=stamp_font, fill=GREY)
        y += 80
        for text in bubbles:
            lines = [text[i : i + per_line] for i in range(0, len(text), per_line)]
            height = 64 * len(lines) + 40
            draw.rounded_rectangle((40, y, 40 + 44 * per_line + 60, y + height), radius=24, fill="white")
            for n, line in enumerate(lines):
                draw.text((70, y + 20 + 64 * n), line, font=body, fill=BLACK)
            y += height + 40
    draw.rectangle((0, HEIGHT - 140, WIDTH, HEIGHT), fill="white")
    draw.text((60, HEIGHT - 100), "短信/彩信", font=stamp_font, fill=GREY)
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def blank_png(width: int = 30, height: int = 60) -> bytes:
    """A small white PNG: a valid image in which OCR finds nothing."""
    return png_bytes(Image.new("RGB", (width, height), "white"))


# The screens the tests and the benchmark use.
CALLS_NOV_20 = [
    Call("138 1234 5678", "未接", "07:12"),
    Call("138 1234 5678", "未接", "09:30"),
    Call("0755-8765 4321", "呼入", "13:05"),
    Call("171 2345 6789", "未接", "22:41", count=3),
    Call("138 1234 5678", "未接", "23:10"),
    Call("139 8765 4321", "呼出", "23:30"),
]


def sample_call_log() -> Image.Image:
    return call_log([("11月20日 星期五", CALLS_NOV_20)])


SMS_SENDER = "1069 0123 4567"
SMS_MESSAGES = [
    ("11月20日 22:41", ["【鑫达资产管理】你儿子欠款已逾期90天，你作为家人必须替他还，今晚不还后果自负。"]),
    ("11月21日 23:05", ["我们是南山区法院的，已对你家立案，明天上门走访你单位。老赖！"]),
]


def sample_sms() -> Image.Image:
    return sms(SMS_SENDER, SMS_MESSAGES)
