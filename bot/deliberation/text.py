"""Hygiene of text that residents type and the bot stores and shows again.

Control characters (NUL, BEL, terminal escape sequences), bidirectional overrides such as U+202E
(which make "txt.exe" read as "exe.txt") and zero-width characters are removed before a text is
stored: they are invisible in the chat, can forge what a message appears to say, and break exports and
terminals. Ordinary CJK text, punctuation and emoji are kept, including the zero-width joiner inside an
emoji sequence and the tag characters of a subdivision flag. A text with nothing visible left is empty.

``csv_cell`` neutralises spreadsheet formulas (OWASP "CSV injection"): a text cell that begins with
``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading single quote, so spreadsheet programs
show it as text instead of evaluating it. Numbers written as numbers (int, Decimal) are not text and
stay as they are; none of the exported figures is negative.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final

from bot.deliberation.errors import InvalidInput

# ESC-introduced sequences: CSI (colours, cursor moves), OSC (window titles, hyperlinks) ending in BEL
# or ST, and the two-character escapes. Removed whole, so no "[31m" debris stays behind.
_ANSI: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]"  # two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_LINE_BREAKS: Final = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_ZWJ: Final = "\u200d"
_BLACK_FLAG: Final = "\U0001f3f4"
_TAGS: Final = range(0xE0020, 0xE0080)
# Letters that render as nothing (Hangul fillers) and the blank Braille pattern: a text made of them
# alone is as empty as one made of zero-width spaces.
_BLANK_LOOKING: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _emoji_like(char: str) -> bool:
    # Symbols, and what follows an emoji inside a sequence: skin-tone modifiers (Sk) and
    # variation selectors or keycaps (Mn, Me).
    return unicodedata.category(char) in ("So", "Sk", "Mn", "Me")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``value`` without control, format (bidi, zero-width) or lone surrogate characters, trimmed.

    Line breaks become ``\\n`` when ``multiline`` (a body, a reason), otherwise a space (a title, an
    option). Tabs become spaces. The result may be empty: see ``has_visible``/``require_text``.
    """
    value = _ANSI.sub("", value).replace("\r\n", "\n")
    out: list[str] = []
    for index, char in enumerate(value):
        if char in _LINE_BREAKS:
            out.append("\n" if multiline else " ")
            continue
        if char == "\t":
            out.append(" ")
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs"):
            continue
        if category == "Cf":
            following = value[index + 1] if index + 1 < len(value) else ""
            previous = out[-1] if out else ""
            if char == _ZWJ and previous and following and _emoji_like(previous) and _emoji_like(following):
                out.append(char)  # inside an emoji sequence (family, profession, rainbow flag)
            elif ord(char) in _TAGS and previous and (previous == _BLACK_FLAG or ord(previous) in _TAGS):
                out.append(char)  # subdivision flags: black flag + tag letters + cancel tag
            continue
        out.append(char)
    text = "".join(out)
    if multiline:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def has_visible(text: str) -> bool:
    """True if some character would show: a letter, digit, punctuation mark or symbol that is not blank."""
    return any(unicodedata.category(char)[0] in "LNPS" and char not in _BLANK_LOOKING for char in text)


def require_text(value: str, *, field: str, max_length: int, multiline: bool = False) -> str:
    """The cleaned text, or ``InvalidInput(field=..., reason="blank"|"too_long")``."""
    text = clean_text(value, multiline=multiline)
    if not has_visible(text):
        raise InvalidInput(f"{field} is empty or only invisible characters", field=field, reason="blank")
    if len(text) > max_length:
        raise InvalidInput(f"{field} longer than {max_length}", field=field, reason="too_long", max=max_length)
    return text


def optional_text(value: str, *, max_length: int, multiline: bool = False) -> str:
    """The cleaned text cut to ``max_length``; "" when nothing visible is left."""
    text = clean_text(value, multiline=multiline)
    return text[:max_length].rstrip() if has_visible(text) else ""


def csv_cell(value: object) -> object:
    """A cell safe to open in a spreadsheet: text that could start a formula is prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(values: Iterable[object]) -> list[object]:
    return [csv_cell(value) for value in values]
