"""Server-side parse_mode handling: what Telegram stores is the parsed text plus entities."""

from __future__ import annotations

import pytest

from bot.fakeapi import ApiError, command_entities, parse_entities, utf16_len


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("议事") == 2
    assert utf16_len("😀") == 2


def test_html_becomes_text_and_entities() -> None:
    text, entities = parse_entities('<b>Vote</b> &amp; <a href="https://x.org">read</a> 😀<i>now</i>', "HTML")
    assert text == "Vote & read 😀now"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "text_link", "offset": 7, "length": 4, "url": "https://x.org"},
        {"type": "italic", "offset": 14, "length": 3},  # the emoji before it is 2 UTF-16 units
    ]


def test_html_pre_with_language_and_spoiler() -> None:
    text, entities = parse_entities(
        '<pre><code class="language-python">x = 1</code></pre><tg-spoiler>s</tg-spoiler>', "HTML"
    )
    assert text == "x = 1s"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "spoiler", "offset": 5, "length": 1},
    ]


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
    ],
)
def test_html_errors_read_like_telegram(markup: str, error: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_entities(markup, "HTML")
    assert caught.value.code == 400
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert error in caught.value.description


def test_markdown_v2_entities_and_escapes() -> None:
    text, entities = parse_entities(
        r"*bold* _it_ __under__ ~s~ ||sp|| `c\`` [l](https://a.b/\)) 1\.5\!", "MarkdownV2"
    )
    assert text == "bold it under s sp c` l 1.5!"
    assert [(e["type"], e["offset"], e["length"]) for e in entities] == [
        ("bold", 0, 4),
        ("italic", 5, 2),
        ("underline", 8, 5),
        ("strikethrough", 14, 1),
        ("spoiler", 16, 2),
        ("code", 19, 2),
        ("text_link", 22, 1),
    ]
    assert entities[-1]["url"] == "https://a.b/)"


def test_markdown_v2_pre_and_blockquote() -> None:
    text, entities = parse_entities("```python\nprint(1)\n```\n>quoted\n>lines\nafter", "MarkdownV2")
    assert text == "print(1)\n\nquoted\nlines\nafter"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 9, "language": "python"},
        {"type": "blockquote", "offset": 10, "length": 12},
    ]


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("Total: 3.5", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("(a)", "Character '(' is reserved"),
        ("*bold", "Can't find end of Bold entity at byte offset 0"),
        ("_a *b_ c*", "Can't find end of Bold entity at byte offset 3"),
    ],
)
def test_markdown_v2_errors(markup: str, error: str) -> None:
    with pytest.raises(ApiError, match="can't parse entities") as caught:
        parse_entities(markup, "MarkdownV2")
    assert error in caught.value.description


def test_legacy_markdown() -> None:
    text, entities = parse_entities("*b* _i_ `c` [l](https://x.y) a.b (ok)", "Markdown")
    assert text == "b i c l a.b (ok)"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    with pytest.raises(ApiError, match="Can't find end of the entity starting at byte offset 0"):
        parse_entities("*open", "Markdown")


def test_no_parse_mode_keeps_text_and_unknown_mode_is_rejected() -> None:
    assert parse_entities("<b>raw</b>", None) == ("<b>raw</b>", [])
    with pytest.raises(ApiError, match="unsupported parse_mode"):
        parse_entities("x", "BBCode")


def test_command_entities_match_telegram() -> None:
    assert command_entities("/start") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert command_entities("议 /vote@yishi_bot yes") == [{"type": "bot_command", "offset": 2, "length": 15}]
    assert command_entities("a/b and http://x/y") == []
