"""A font with Chinese glyphs, for the chart and the test screenshots.

``ANXIN_CJK_FONT`` names one; otherwise fontconfig is asked for a font with
Chinese, then a few well-known Debian paths are tried. ``make setup`` installs
``fonts-wqy-microhei`` when none is found.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

ENV_FONT = "ANXIN_CJK_FONT"
INSTALL_HINT = (
    "No font with Chinese characters was found. Install one: "
    "`sudo apt-get install fonts-wqy-microhei` (make setup does this), "
    f"or set {ENV_FONT}=/path/to/font.ttc"
)
KNOWN = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)


class NoCJKFont(RuntimeError):
    pass


def _fontconfig() -> list[str]:
    if not shutil.which("fc-list"):
        return []
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]
    # Sans-serif first (easier to read on a chart), then any.
    return sorted(files, key=lambda f: (not any(k in f.lower() for k in ("hei", "sans")), f))


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> str:
    """Path of a TrueType/OpenType font with Chinese glyphs; ``NoCJKFont`` if none."""
    chosen = os.environ.get(ENV_FONT)
    candidates = [chosen] if chosen else [*_fontconfig(), *KNOWN]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and candidate.lower().endswith((".ttf", ".ttc", ".otf")):
            return candidate
    raise NoCJKFont(INSTALL_HINT if not chosen else f"{ENV_FONT}={chosen} is not a font file. {INSTALL_HINT}")
