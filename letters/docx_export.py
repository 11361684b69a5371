"""A rendered letter as a Word file (.docx) to print, sign or attach."""

from __future__ import annotations

from io import BytesIO

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from letters.render import Letter

# Word falls back to a Latin font for Chinese unless the East Asian font is set.
CHINESE_FONT = "宋体"
LATIN_FONT = "SimSun"


def _set_font(style_or_run, size: float) -> None:
    style_or_run.font.name = LATIN_FONT
    style_or_run.font.size = Pt(size)
    r_pr = style_or_run.element.get_or_add_rPr()
    r_fonts = r_pr.find(qn("w:rFonts"))
    if r_fonts is None:
        r_fonts = r_pr.makeelement(qn("w:rFonts"), {})
        r_pr.append(r_fonts)
    r_fonts.set(qn("w:eastAsia"), CHINESE_FONT)


def to_docx_bytes(letter: Letter) -> bytes:
    """The letter as .docx bytes: a centred bold title, then one paragraph per
    line of the body (a blank line between sections is kept once)."""
    document = Document()
    _set_font(document.styles["Normal"], 12)
    document.core_properties.title = letter.title

    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(letter.title)
    run.bold = True
    _set_font(run, 16)

    previous_blank = False
    for line in letter.body.splitlines():
        blank = not line.strip()
        if blank and previous_blank:
            continue
        document.add_paragraph(line.rstrip())
        previous_blank = blank

    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()
