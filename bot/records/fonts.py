"""The one font of the documents: WenQuanYi Micro Hei (Apache-2.0), shipped so a fresh machine renders Chinese."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_PATH = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "wqy-microhei.ttc"
FONT_NAME = "WQYMicroHei"
SUBFONT = 0  # the collection's first face, "WenQuanYi Micro Hei" (the second is its monospaced twin)


@cache
def font_name() -> str:
    """Register the font with reportlab once and return the name to set in styles."""
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_PATH), subfontIndex=SUBFONT))
    return FONT_NAME


@cache
def _codepoints() -> frozenset[int]:
    font_name()
    face = pdfmetrics.getFont(FONT_NAME).face
    return frozenset(face.charToGlyph)


def missing_glyphs(text: str) -> set[str]:
    """The characters of ``text`` the font has no glyph for (they would print as empty boxes)."""
    have = _codepoints()
    return {ch for ch in text if not ch.isspace() and ord(ch) not in have}


def printable(text: str) -> str:
    """``text`` with every character the font lacks replaced by "?" (a resident's emoji in a title)."""
    have = _codepoints()
    return "".join(ch if ch.isspace() or ord(ch) in have else "?" for ch in text)
