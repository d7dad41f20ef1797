"""Text entity parsing. Telegram parses parse_mode server-side, so lengths, "not modified" checks and
"can't parse entities" errors all depend on the parsed text, not on the raw markup.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from bot.fakeapi.errors import bad_request
from bot.fakeapi.limits import COMMAND_ENTITY_RE


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: most emoji count twice)."""
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(Exception):
    pass


class _TextBuilder:
    """Accumulates plain text and entities with offsets in UTF-16 code units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        # Telegram drops empty entities instead of failing.
        if self.pos > start:
            self.entities.append({"type": kind, "offset": start, "length": self.pos - start, **extra})

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _HtmlEntityParser(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self._open: list[tuple[str, dict[str, Any] | None, int]] = []
        self.out = _TextBuilder()

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        index = self._line_starts[line - 1] + column
        return len(self._source[:index].encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        kind = _HTML_TAGS.get(tag)
        if kind is None or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        entity: dict[str, Any] | None = {"type": kind}
        if tag == "a":
            href = attributes.get("href", "")
            entity = {"type": kind, "url": href} if href else None
        elif tag == "code" and self._open and self._open[-1][0] == "pre":
            # <pre><code class="language-x"> is one pre entity carrying the language.
            pre = self._open[-1][1]
            language = attributes.get("class", "")
            if pre is not None and language.startswith("language-"):
                pre["language"] = language.removeprefix("language-")
            entity = None
        elif tag == "blockquote" and "expandable" in attributes:
            entity = {"type": "expandable_blockquote"}
        elif tag == "tg-emoji":
            entity = {"type": kind, "custom_emoji_id": attributes.get("emoji-id", "")}
        self._open.append((tag, entity, self.out.pos))

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._byte_offset()}")
        open_tag, entity, start = self._open.pop()
        if open_tag != tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {self._byte_offset()}, expected "</{open_tag}>", '
                f'found "</{tag}>"'
            )
        if entity is not None:
            extra = {k: v for k, v in entity.items() if k != "type"}
            self.out.entity(entity["type"], start, **extra)

    def handle_data(self, data: str) -> None:
        self.out.add(data)

    def finish(self) -> tuple[str, list[dict[str, Any]]]:
        self.close()
        if self._open:
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{self._open[-1][0]}"')
        return self.out.result()


def _parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    parser = _HtmlEntityParser(source)
    parser.feed(source)
    return parser.finish()


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _parse_markdown_v2(src: str) -> tuple[str, list[dict[str, Any]]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, int, str]] = []  # kind, utf16 start, source index, pre language
    quote_start: int | None = None
    i, n = 0, len(src)

    def byte_offset(index: int) -> int:
        return len(src[:index].encode())

    def toggle(kind: str, width: int) -> None:
        nonlocal i
        if stack and stack[-1][0] == kind:
            _, start, _, _ = stack.pop()
            out.entity(kind, start)
        elif any(entry[0] == kind for entry in stack):
            # Closing an entity that is not the innermost one: Telegram rejects the overlap.
            top_kind, _, index, _ = stack[-1]
            raise EntityParseError(
                f"Can't find end of {_MDV2_NAMES[top_kind]} entity at byte offset {byte_offset(index)}"
            )
        else:
            stack.append((kind, out.pos, i, ""))
        i += width

    while i < n:
        c = src[i]
        top = stack[-1][0] if stack else None
        if c == "\\":
            if i + 1 >= n:
                raise EntityParseError(
                    "Character '\\' is reserved and must be escaped with the preceding '\\'"
                )
            out.add(src[i + 1])
            i += 2
        elif top in ("code", "pre"):
            if top == "pre" and src.startswith("```", i):
                _, start, _, language = stack.pop()
                out.entity("pre", start, **({"language": language} if language else {}))
                i += 3
            elif c == "`" and top == "code":
                toggle("code", 1)
            elif c == "`":
                raise EntityParseError(
                    "Character '`' is reserved and must be escaped with the preceding '\\'"
                )
            else:
                out.add(c)
                i += 1
        elif c == "\n":
            if quote_start is not None and not src.startswith(">", i + 1):
                out.entity("blockquote", quote_start)
                quote_start = None
            out.add(c)
            i += 1
        elif c == ">" and (i == 0 or src[i - 1] == "\n"):
            if quote_start is None:
                quote_start = out.pos
            i += 1
        elif src.startswith("```", i):
            newline = src.find("\n", i + 3)
            header = src[i + 3 : newline] if newline != -1 else ""
            if newline != -1 and re.fullmatch(r"[\w+#.-]*", header):
                stack.append(("pre", out.pos, i, header))
                i = newline + 1
            else:
                stack.append(("pre", out.pos, i, ""))
                i += 3
        elif c == "`":
            toggle("code", 1)
        elif src.startswith("||", i):
            toggle("spoiler", 2)
        elif src.startswith("__", i) and top != "italic":
            toggle("underline", 2)
        elif c == "_":
            toggle("italic", 1)
        elif c == "*":
            toggle("bold", 1)
        elif c == "~":
            toggle("strikethrough", 1)
        elif src.startswith("![", i):
            stack.append(("custom_emoji", out.pos, i, ""))
            i += 2
        elif c == "[":
            stack.append(("text_link", out.pos, i, ""))
            i += 1
        elif c == "]" and top in ("text_link", "custom_emoji"):
            if not src.startswith("(", i + 1):
                raise EntityParseError(f"Can't find end of a URL at byte offset {byte_offset(i + 1)}")
            j, url = i + 2, []
            while j < n and src[j] != ")":
                if src[j] == "\\" and j + 1 < n:
                    url.append(src[j + 1])
                    j += 2
                else:
                    url.append(src[j])
                    j += 1
            if j >= n:
                raise EntityParseError(f"Can't find end of a URL at byte offset {byte_offset(i + 1)}")
            kind, start, _, _ = stack.pop()
            target = "".join(url)
            if kind == "custom_emoji":
                out.entity(kind, start, custom_emoji_id=target.partition("id=")[2])
            else:
                out.entity(kind, start, url=target)
            i = j + 1
        elif c in _MDV2_RESERVED:
            raise EntityParseError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        else:
            out.add(c)
            i += 1

    if quote_start is not None:
        out.entity("blockquote", quote_start)
    if stack:
        kind, _, index, _ = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset {byte_offset(index)}"
        )
    return out.result()


def _parse_markdown(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Legacy "Markdown": no nesting, and only _ * ` [ can be escaped."""
    out = _TextBuilder()
    i, n = 0, len(src)

    def unclosed(index: int) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of the entity starting at byte offset {len(src[:index].encode())}"
        )

    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.add(src[i + 1])
            i += 2
        elif src.startswith("```", i):
            end = src.find("```", i + 3)
            if end == -1:
                raise unclosed(i)
            body, language = src[i + 3 : end], ""
            first, newline, rest = body.partition("\n")
            if newline and re.fullmatch(r"[\w+#.-]+", first):
                body, language = rest, first
            start = out.pos
            out.add(body)
            out.entity("pre", start, **({"language": language} if language else {}))
            i = end + 3
        elif c in "*_`":
            end = src.find(c, i + 1)
            if end == -1:
                raise unclosed(i)
            start = out.pos
            out.add(src[i + 1 : end])
            out.entity({"*": "bold", "_": "italic", "`": "code"}[c], start)
            i = end + 1
        elif c == "[":
            close = src.find("]", i + 1)
            end = src.find(")", close + 2) if close != -1 and src.startswith("(", close + 1) else -1
            if end == -1:
                raise unclosed(i)
            start = out.pos
            out.add(src[i + 1 : close])
            out.entity("text_link", start, url=src[close + 2 : end])
            i = end + 1
        else:
            out.add(c)
            i += 1
    return out.result()


def parse_entities(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Turn marked-up text into (plain text, entities) the way Telegram does for ``parse_mode``.

    Raises :class:`ApiError` with Telegram's "can't parse entities" wording on malformed markup.
    """
    if not parse_mode:
        return text, []
    parsers = {"html": _parse_html, "markdownv2": _parse_markdown_v2, "markdown": _parse_markdown}
    parser = parsers.get(parse_mode.lower())
    if parser is None:
        raise bad_request("unsupported parse_mode")
    try:
        return parser(text)
    except EntityParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None


def command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entities Telegram attaches to a user's message."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
        for m in COMMAND_ENTITY_RE.finditer(text)
    ]


