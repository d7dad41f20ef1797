"""A4 pages in the shipped font: the few building blocks the announcement and the minutes share."""

from __future__ import annotations

import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from bot.records.fonts import font_name, printable


def _style(size: float, leading: float, *, align: int = 0, space: float = 2) -> ParagraphStyle:
    # CJK text has no spaces to break at: wordWrap="CJK" breaks between any two characters.
    return ParagraphStyle(f"yishi-{size}-{align}", fontName=font_name(), fontSize=size, leading=leading,
                          alignment=align, spaceAfter=space, wordWrap="CJK")


def title(text: str) -> Paragraph:
    return Paragraph(escape(printable(text)), _style(18, 24, align=1, space=8))


def heading(text: str) -> Paragraph:
    return Paragraph(escape(printable(text)), _style(12.5, 17, space=3))


def para(text: str, size: float = 10.5) -> Paragraph:
    return Paragraph(escape(printable(text)).replace("\n", "<br/>"), _style(size, size * 1.45))


def gap(height_mm: float = 4) -> Spacer:
    return Spacer(1, height_mm * mm)


def table(rows: Sequence[Sequence[str]], widths_mm: Sequence[float]) -> Table:
    """A ruled table, first row bold-ish (shaded); every cell a wrapping paragraph."""
    cells = [[para(cell, 9.5) for cell in row] for row in rows]
    grid = Table(cells, colWidths=[w * mm for w in widths_mm], repeatRows=1)
    grid.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return grid


def render(story: list[Flowable], *, subject: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=printable(subject), author="Yishi", subject=printable(subject))
    doc.build(story)
    return buffer.getvalue()
