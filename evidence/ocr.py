"""Offline OCR of screenshots with rapidocr (PP-OCRv4 Chinese models inside its wheel).

The engine is loaded once per process, on first use (about 0.2–0.5 s and
~100–200 MB), behind a lock. ``read_lines_async`` runs OCR on a small thread
pool of its own, so the event loop keeps answering other users meanwhile;
``ANXIN_OCR_WORKERS`` (default 1) screenshots at a time per process, each on
``ANXIN_OCR_THREADS`` onnxruntime threads (default: all cores).

Lines come back in reading order: rows top to bottom (boxes whose vertical
centres are within half a line of each other are one row), left to right
within a row. Nothing read is logged.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

ENV_WORKERS = "ANXIN_OCR_WORKERS"
ENV_THREADS = "ANXIN_OCR_THREADS"
MIN_SCORE = 0.5
MAX_SIDE = 4000  # pixels: larger photos are shrunk before OCR (boxes are in the shrunk image)

_engine: Any = None
_engine_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[tuple[float, float], ...]  # four corners, clockwise from top-left
    score: float

    @property
    def left(self) -> float:
        return min(p[0] for p in self.box)

    @property
    def right(self) -> float:
        return max(p[0] for p in self.box)

    @property
    def top(self) -> float:
        return min(p[1] for p in self.box)

    @property
    def bottom(self) -> float:
        return max(p[1] for p in self.box)

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def center_y(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class OcrResult:
    lines: list[OcrLine]
    width: int
    height: int

    @property
    def text(self) -> str:
        return "\n".join(" ".join(line.text for line in row) for row in rows(self.lines))


def _threads() -> int:
    try:
        return max(-1, int(os.environ.get(ENV_THREADS, "-1")))
    except ValueError:
        return -1


def engine() -> Any:
    """The process's rapidocr engine, created on first use."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                from rapidocr_onnxruntime import RapidOCR  # heavy import, only when needed

                _engine = RapidOCR(intra_op_num_threads=_threads(), print_verbose=False)
    return _engine


def engine_loaded() -> bool:
    return _engine is not None


def rows(lines: list[OcrLine]) -> list[list[OcrLine]]:
    """Lines grouped into visual rows, top to bottom, each left to right."""
    grouped: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.center_y, item.left)):
        if grouped:
            row = grouped[-1]
            row_center = sum(item.center_y for item in row) / len(row)
            row_height = max(item.height for item in row)
            if abs(line.center_y - row_center) <= max(row_height, line.height) / 2:
                row.append(line)
                continue
        grouped.append([line])
    return [sorted(row, key=lambda item: item.left) for row in grouped]


def _image(data: bytes | Image.Image) -> Image.Image:
    image = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        # A large photo is decoded at a reduced scale (the engine shrinks it anyway).
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))
    # A photo taken sideways is read as it is shown.
    image = ImageOps.exif_transpose(image).convert("RGB")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def read_lines(data: bytes | Image.Image, min_score: float = MIN_SCORE) -> OcrResult:
    """OCR one image (bytes of a checked upload, or a Pillow image); blocking."""
    image = _image(data)
    result, _elapsed = engine()(image)
    lines = []
    for box, text, score in result or []:
        text = (text or "").strip()
        if text and float(score) >= min_score:
            corners = tuple((float(x), float(y)) for x, y in box)
            lines.append(OcrLine(text, corners, float(score)))
    ordered = [line for row in rows(lines) for line in row]
    return OcrResult(ordered, image.width, image.height)


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            try:
                workers = max(1, int(os.environ.get(ENV_WORKERS, "1")))
            except ValueError:
                workers = 1
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anxin-ocr")
        return _executor


async def read_lines_async(data: bytes | Image.Image, min_score: float = MIN_SCORE) -> OcrResult:
    """``read_lines`` off the event loop (onnxruntime releases the GIL while it computes)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), read_lines, data, min_score)
