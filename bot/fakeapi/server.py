"""An in-memory fake of the Telegram Bot API, served over real HTTP.

Real bot clients (aiogram 3, python-telegram-bot 22) point their base URL at this server and cannot
tell it apart from Telegram for everything Yishi uses: the same URL layout (``/bot{token}/{method}``),
the same request encodings (JSON, urlencoded and multipart forms with JSON-encoded nested fields),
the same response envelope, and the same error texts, status codes and ``parameters`` that the
clients turn into typed exceptions (RetryAfter, ChatMigrated, Forbidden...).

Tests, benchmarks and the local demo drive the "human" side through the control API: the Python
methods of :class:`FakeTelegram` in-process, or the JSON endpoints under ``/_fake/`` from another
process or a browser. Everything lives in memory and runs on one event loop, so no locking is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
from aiohttp import web

MAX_TEXT_LENGTH = 4096  # in UTF-16 code units, as Telegram counts
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_POLL_TIMEOUT = 50  # Telegram silently caps long polling at 50 seconds
MAX_EVENTS = 10_000

# Update types delivered when a bot never asked for a specific list (Telegram's documented default).
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})
ACTIVE_STATUSES = frozenset({"creator", "administrator", "member"})
SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
# Every field both aiogram and PTB require on ChatMemberAdministrator.
ADMIN_RIGHTS: dict[str, bool] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_send_welcome_messages": False,
    "can_pin_messages": True,
    "can_manage_topics": False,
}
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
# A bot command starts at a word boundary: "/start", "/help@yishi_bot".
COMMAND_ENTITY_RE = re.compile(r"(?<!\S)/\w{1,64}(?:@\w{3,32})?", re.ASCII)


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class ApiError(Exception):
    """A Bot API failure, rendered exactly like Telegram's error envelope."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str, parameters: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}", parameters)


def forbidden(detail: str) -> ApiError:
    return ApiError(403, f"Forbidden: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


class ControlError(Exception):
    """Misuse of the control API (unknown user, pressing a button that is not there, ...)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------------------------------
# Text formatting: Telegram parses parse_mode server-side, so lengths, "not modified" checks and
# "can't parse entities" errors all depend on the parsed text, not on the raw markup.
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------------


class _Signal:
    """Wakes every waiter on each ``fire()``; waiters re-check their own predicate.

    One Event per generation (rather than an asyncio.Condition) lets plain synchronous code, such as
    ``FakeTelegram.send_text``, wake waiters without holding a lock.
    """

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def fire(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not predicate():
            if self._event is None:
                self._event = asyncio.Event()
            event = self._event
            if deadline is None:
                await event.wait()
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True


def _now() -> int:
    return int(time.time())


@dataclass
class UserAccount:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's published broadcast limits (the real ones are fuzzier, these are deterministic)."""

    global_per_second: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20


@dataclass
class _FloodState:
    recent: deque[float] = field(default_factory=deque)
    private_buckets: dict[int, tuple[float, float]] = field(default_factory=dict)  # tokens, updated at
    group_windows: dict[int, deque[float]] = field(default_factory=dict)


@dataclass
class BotAccount:
    token: str
    user: UserAccount
    pending: list[dict[str, Any]] = field(default_factory=list)
    allowed_updates: frozenset[str] | None = None
    webhook: WebhookConfig | None = None
    commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # "scope|lang" -> commands
    poll_generation: int = 0
    signal: _Signal = field(default_factory=_Signal, repr=False)
    flood: _FloodState = field(default_factory=_FloodState, repr=False)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username or ""

    def get_me(self) -> dict[str, Any]:
        return self.user.to_api() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"token": self.token, "user": self.user.to_api(), "pending_updates": len(self.pending)}


@dataclass
class StoredMessage:
    chat_id: int
    message_id: int
    date: int
    sender: dict[str, Any]
    chat: dict[str, Any]
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None  # inline keyboard only, as Telegram reports it
    reply_keyboard: dict[str, Any] | None = None  # reply keyboard / remove / force_reply sent along
    reply_to: StoredMessage | None = field(default=None, repr=False)
    parse_mode: str | None = None
    edit_date: int | None = None
    edit_history: list[str] = field(default_factory=list)  # previous texts, oldest first
    deleted: bool = False
    service: dict[str, Any] = field(default_factory=dict)  # e.g. migrate_to_chat_id

    @property
    def from_bot(self) -> bool:
        return bool(self.sender.get("is_bot"))

    @property
    def sender_id(self) -> int:
        return int(self.sender["id"])

    @property
    def edit_count(self) -> int:
        return len(self.edit_history)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        if not self.reply_markup:
            return []
        return [button for row in self.reply_markup["inline_keyboard"] for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    def to_api(self, *, with_reply: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if with_reply and self.reply_to is not None:
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.text is not None:
            data["text"] = self.text
        if self.entities:
            data["entities"] = self.entities
        if self.reply_markup is not None:
            data["reply_markup"] = self.reply_markup
        return data | self.service

    def to_dict(self) -> dict[str, Any]:
        """The Telegram view plus what only the fake knows (for the control API and the demo page)."""
        return self.to_api() | {
            "from_bot": self.from_bot,
            "edit_count": self.edit_count,
            "deleted": self.deleted,
            "reply_keyboard": self.reply_keyboard,
            "parse_mode": self.parse_mode,
        }


@dataclass
class Chat:
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    bot_id: int | None = None  # private chats: the one bot this user talks to under this chat id
    members: dict[int, str] = field(default_factory=dict)  # user id -> status
    messages: dict[int, StoredMessage] = field(default_factory=dict, repr=False)
    next_message_id: int = 1
    version: int = 0
    migrated_to: int | None = None

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    def to_dict(self) -> dict[str, Any]:
        return self.to_api() | {
            "bot_id": self.bot_id,
            "members": {str(uid): status for uid, status in self.members.items()},
            "message_count": len(self.messages),
            "version": self.version,
            "migrated_to": self.migrated_to,
        }


@dataclass
class CallbackAnswer:
    """What the presser sees after answerCallbackQuery (the toast or alert)."""

    callback_query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int = 0


@dataclass
class _PendingQuery:
    bot_id: int
    user_id: int
    chat_id: int
    message_id: int
    data: str


@dataclass
class _Injection:
    retry_after: int
    remaining: int
    chat_id: int | None
    bot_id: int | None
    methods: frozenset[str] | None  # lower-case method names; None = everything but getUpdates


@dataclass
class Stats:
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)
    too_many_requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "errors": {str(code): count for code, count in self.errors.items()},
            "too_many_requests": self.too_many_requests,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }


# --------------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    return None


class _Params:
    """Typed access to request fields, which arrive as JSON values or as (JSON-encoded) form strings."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def present(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def get_str(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value if isinstance(value, str) else str(value)

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value in (None, ""):
            return default
        number = _as_int(value)
        if number is None:
            raise bad_request(f"invalid {name} specified")
        return number

    def get_bool(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value


async def _read_request_params(request: web.Request) -> dict[str, Any]:
    """Merge query string and body, whatever the encoding (Telegram accepts all of them)."""
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("JSON body must be an object")
        params.update(body)
    elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.post()
        for key, value in form.items():
            params[key] = value  # file parts stay FileField objects; nothing here reads them
    return params


# --------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------

ApiHandler = Callable[[BotAccount, _Params], Awaitable[Any]]
BotRef = str | int | BotAccount | None


class FakeTelegram:
    """Fake Telegram Bot API server plus the control API that plays the human side.

    Typical use::

        async with FakeTelegram.running() as fake:
            fake.add_bot("123456:TEST", "yishi_bot")
            fake.add_user(1001, "Alice")
            ...  # point a bot at fake.base_url, then fake.send_text(1001, 1001, "/start")
    """

    def __init__(
        self,
        *,
        flood_limits: FloodLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        webhook_retry_delay: float = 0.5,
        first_update_id: int = 1,
    ) -> None:
        # A bot that remembers handled update ids across restarts needs a server that does not
        # reuse them (Telegram's ids only grow): the local room starts above the last one it handled.
        self.bots: dict[str, BotAccount] = {}
        self.users: dict[int, UserAccount] = {}
        self.chats: dict[int, Chat] = {}
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.stats = Stats()
        self.flood_limits = flood_limits  # None = no flood enforcement
        self.webhook_retry_delay = webhook_retry_delay
        self.base_url = ""
        self._clock = clock
        self._bots_by_id: dict[int, BotAccount] = {}
        self._blocked: set[tuple[int, int]] = set()  # (bot id, user id)
        self._queries: dict[str, _PendingQuery] = {}
        self._injections: list[_Injection] = []
        self._events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self._last_event_id = 0
        self._update_ids = itertools.count(first_update_id)
        self._query_ids = itertools.count(1)
        self._changed = _Signal()  # any message, edit, toast or event
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._deliveries: dict[int, asyncio.Task[None]] = {}
        self._methods: dict[str, tuple[str, ApiHandler]] = {}
        self._register_methods()
        self.app = self._build_app()

    # ---------------------------------------------------------------------------------- lifecycle

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> AsyncIterator[FakeTelegram]:
        """Start a fresh fake on ``host:port`` (port 0 picks a free one) and stop it afterwards."""
        fake = cls(**options)
        async with fake.serve(host, port):
            yield fake

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[FakeTelegram]:
        await self.start(host, port)
        try:
            yield self
        finally:
            await self.stop()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._closing = False
        # handler_cancellation: a client that drops a long poll must not keep a handler alive.
        self._runner = web.AppRunner(
            self.app, handler_cancellation=True, shutdown_timeout=2.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        url_host = "127.0.0.1" if bound_host in ("0.0.0.0", "") else bound_host
        if ":" in url_host:
            url_host = f"[{url_host}]"
        self.base_url = f"http://{url_host}:{bound_port}"
        for bot in self.bots.values():
            if bot.webhook is not None:  # webhooks survive a restart, like on Telegram
                self._restart_delivery(bot)
        return self.base_url

    async def stop(self) -> None:
        self._wake_everyone()
        for task in self._deliveries.values():
            task.cancel()
        for task in self._deliveries.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._deliveries.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _wake_everyone(self) -> None:
        # Long polls and waiters return promptly so shutdown never waits for a poll timeout.
        self._closing = True
        for bot in self.bots.values():
            bot.signal.fire()
        self._changed.fire()

    # ------------------------------------------------------------------------- control: accounts

    def add_bot(self, token: str, username: str, first_name: str | None = None) -> BotAccount:
        """Register a bot; its id is the numeric part of the token, as with real tokens."""
        left, sep, right = token.partition(":")
        if not (sep and left.isdigit() and right):
            raise ControlError("token must look like '123456:secret'")
        if token in self.bots:
            return self.bots[token]
        username = username.lstrip("@")
        user = UserAccount(int(left), first_name or username, username=username, is_bot=True)
        bot = BotAccount(token=token, user=user)
        self.bots[token] = bot
        self._bots_by_id[user.id] = bot
        self.users[user.id] = user
        return bot

    def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = None,
        *,
        last_name: str | None = None,
    ) -> UserAccount:
        if user_id <= 0:
            raise ControlError("user ids are positive")
        user = UserAccount(
            user_id, first_name, username=username, last_name=last_name, language_code=language_code
        )
        self.users[user_id] = user
        return user

    def add_private_chat(self, user_id: int, bot: BotRef = None) -> Chat:
        """The private chat between a user and a bot; its id is the user's id, as in Telegram."""
        account = self._bot(bot)
        user = self._user(user_id)
        chat = self.chats.get(user_id)
        if chat is not None:
            if chat.bot_id != account.id:
                raise ControlError(
                    f"user {user_id} already has a private chat with another bot (fake limitation)"
                )
            return chat
        chat = Chat(
            id=user_id,
            type="private",
            username=user.username,
            first_name=user.first_name,
            last_name=user.last_name,
            bot_id=account.id,
            members={user_id: "member", account.id: "member"},
        )
        self.chats[user_id] = chat
        self._emit("chat", chat=chat.to_dict())
        return chat

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        members: Iterable[int] = (),
        admins: Iterable[int] = (),
        creator: int | None = None,
        supergroup: bool = False,
        username: str | None = None,
        bots: Iterable[BotRef] | None = None,
    ) -> Chat:
        """Create a group; ``bots=None`` adds every registered bot as a plain member."""
        if chat_id >= 0:
            raise ControlError("group ids are negative")
        chat = Chat(id=chat_id, type="supergroup" if supergroup else "group", title=title, username=username)
        for account in self.bots.values() if bots is None else [self._bot(ref) for ref in bots]:
            chat.members[account.id] = "member"
        for user_id in members:
            self._user(user_id)
            chat.members[user_id] = "member"
        for user_id in admins:
            self._user(user_id)
            chat.members[user_id] = "administrator"
        if creator is not None:
            self._user(creator)
            chat.members[creator] = "creator"
        self.chats[chat_id] = chat
        self._emit("chat", chat=chat.to_dict())
        return chat

    def set_member(self, chat_id: int, user_id: int, status: str, *, by_user_id: int | None = None) -> None:
        """Change someone's status; bots get my_chat_member (and chat_member if they asked for it)."""
        if status not in MEMBER_STATUSES:
            raise ControlError(f"status must be one of {sorted(MEMBER_STATUSES)}")
        chat = self._chat(chat_id)
        user = self._user(user_id)
        old = chat.members.get(user_id, "left")
        chat.members[user_id] = status
        actor = self.users.get(by_user_id or self._group_actor(chat) or user_id, user)
        change = {
            "chat": chat.to_api(),
            "from": actor.to_api(),
            "date": _now(),
            "old_chat_member": self._member_api(user, old),
            "new_chat_member": self._member_api(user, status),
        }
        if user.is_bot:
            self._enqueue(self._bots_by_id[user_id], "my_chat_member", change)
        for account in self._recipients(chat):
            if account.id != user_id:
                self._enqueue(account, "chat_member", change)
        self._touch(chat)
        self._emit("member", chat_id=chat.id, user_id=user_id, status=status)

    # ----------------------------------------------------------------------- control: user side

    def send_text(
        self, user_id: int, chat_id: int, text: str, reply_to: int | None = None, *, bot: BotRef = None
    ) -> StoredMessage:
        """A user writes in a chat; bots there receive a ``message`` update. Returns the message."""
        user = self._user(user_id)
        chat = self.chats.get(chat_id)
        if chat is None and chat_id == user_id:
            chat = self.add_private_chat(user_id, bot)
        chat = self._user_writable_chat(user, chat, chat_id)
        if not text.strip():
            raise ControlError("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise ControlError("message is too long")
        target = None
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            if target is None or target.deleted:
                raise ControlError(f"message {reply_to} not found in chat {chat.id}")
        if chat.type == "private" and chat.bot_id is not None and (chat.bot_id, user_id) in self._blocked:
            # Writing to a blocked bot means pressing "Restart": Telegram unblocks first.
            self.unblock_bot(user_id, chat.bot_id)
        message = self._store(chat, user, text=text, entities=command_entities(text), reply_to=target)
        self._deliver(chat, "message", message.to_api())
        return message

    def edit_text(self, user_id: int, chat_id: int, message_id: int, text: str) -> StoredMessage:
        """A user edits their own message; bots receive ``edited_message``."""
        user = self._user(user_id)
        chat = self._user_writable_chat(user, self.chats.get(chat_id), chat_id)
        message = self._message(chat, message_id)
        if message.sender_id != user_id:
            raise ControlError("users can only edit their own messages")
        if not text.strip() or utf16_len(text) > MAX_TEXT_LENGTH:
            raise ControlError("text is empty or too long")
        message.edit_history.append(message.text or "")
        message.text, message.entities, message.edit_date = text, command_entities(text), _now()
        self._touch(chat)
        self._emit("edit", chat_id=chat.id, message=message.to_dict())
        self._deliver(chat, "edited_message", message.to_api())
        return message

    def press_button(
        self, user_id: int, chat_id: int, message_id: int, callback_data: str, *, forged: bool = False
    ) -> str:
        """A user taps an inline button; returns the callback query id to look up the bot's answer.

        ``forged``: a modified client sends data the message does not carry (Telegram lets any client
        send any callback data for a message; the update still shows the message as it really is).
        """
        user = self._user(user_id)
        chat = self._chat(chat_id)
        message = self._message(chat, message_id)
        if callback_data not in message.callback_data and not forged:
            raise ControlError(f"message {message_id} has no button with callback_data {callback_data!r}")
        if chat.members.get(user_id) not in ACTIVE_STATUSES:
            raise ControlError(f"user {user_id} is not in chat {chat_id}")
        account = self._bots_by_id.get(message.sender_id)
        if account is None:
            raise ControlError("only messages sent by a bot carry inline buttons")
        query_id = str(4_000_000_000_000_000 + next(self._query_ids))
        self._queries[query_id] = _PendingQuery(account.id, user_id, chat.id, message_id, callback_data)
        query = {
            "id": query_id,
            "from": user.to_api(),
            "message": message.to_api(),
            "chat_instance": str((account.id * 1_000_003 + chat.id) & 0x7FFF_FFFF_FFFF_FFFF),
            "data": callback_data,
        }
        self._enqueue(account, "callback_query", query)
        self._emit(
            "press", chat_id=chat.id, message_id=message_id, user_id=user_id, callback_query_id=query_id
        )
        return query_id

    def callback_answer(self, callback_query_id: str) -> CallbackAnswer | None:
        return self.callback_answers.get(callback_query_id)

    async def wait_for_callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> CallbackAnswer:
        if not await self._changed.wait_until(lambda: callback_query_id in self.callback_answers, timeout):
            raise TimeoutError(f"callback query {callback_query_id} was not answered within {timeout}s")
        return self.callback_answers[callback_query_id]

    def block_bot(self, user_id: int, bot: BotRef = None) -> None:
        """The user blocks the bot: sends fail with 403 and the bot gets my_chat_member "kicked"."""
        account = self._bot(bot)
        user = self._user(user_id)
        chat = self.add_private_chat(user_id, account)
        if (account.id, user_id) in self._blocked:
            return
        self._blocked.add((account.id, user_id))
        self._private_member_update(account, user, chat, "member", "kicked")
        self._emit("block", chat_id=chat.id, user_id=user_id, bot_id=account.id)

    def unblock_bot(self, user_id: int, bot: BotRef = None) -> None:
        account = self._bot(bot)
        user = self._user(user_id)
        if (account.id, user_id) not in self._blocked:
            return
        self._blocked.discard((account.id, user_id))
        chat = self.add_private_chat(user_id, account)
        self._private_member_update(account, user, chat, "kicked", "member")
        self._emit("unblock", chat_id=chat.id, user_id=user_id, bot_id=account.id)

    unblock = unblock_bot

    def migrate_group(self, old_chat_id: int, new_chat_id: int, *, by_user_id: int | None = None) -> Chat:
        """Upgrade a group to a supergroup with a new id, like Telegram does on many admin actions."""
        old = self._chat(old_chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise ControlError("only a basic group can be upgraded, once")
        if new_chat_id >= 0 or new_chat_id in self.chats:
            raise ControlError("the new supergroup id must be negative and unused")
        new = Chat(id=new_chat_id, type="supergroup", title=old.title, members=dict(old.members))
        self.chats[new_chat_id] = new
        old.migrated_to = new_chat_id
        actor = self.users[by_user_id or self._group_actor(old) or next(iter(old.members))]
        to_msg = self._store(old, actor, service={"migrate_to_chat_id": new_chat_id})
        from_msg = self._store(new, actor, service={"migrate_from_chat_id": old_chat_id})
        self._deliver(old, "message", to_msg.to_api(), include_sender=True)
        self._deliver(new, "message", from_msg.to_api(), include_sender=True)
        self._emit("migrate", old_chat_id=old_chat_id, new_chat_id=new_chat_id)
        return new

    # ------------------------------------------------------------------- control: fault injection

    def inject_retry_after(
        self,
        retry_after: int,
        count: int = 1,
        *,
        chat_id: int | None = None,
        bot: BotRef = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Make the next ``count`` matching calls fail with 429 and ``parameters.retry_after``.

        Matches every method except getUpdates unless ``methods`` is given, for any chat unless
        ``chat_id`` is given, for any bot unless ``bot`` is given.
        """
        self._injections.append(
            _Injection(
                retry_after=retry_after,
                remaining=count,
                chat_id=chat_id,
                bot_id=None if bot is None else self._bot(bot).id,
                methods=None if methods is None else frozenset(m.lower() for m in methods),
            )
        )

    def enable_flood_limits(self, limits: FloodLimits | None = None) -> None:
        self.flood_limits = limits or FloodLimits()

    def disable_flood_limits(self) -> None:
        self.flood_limits = None

    def reset_stats(self) -> None:
        self.stats = Stats()

    # ------------------------------------------------------------------------------ read side

    def chat(self, chat_id: int) -> Chat:
        return self._chat(chat_id)

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [m for m in chat.messages.values() if include_deleted or not m.deleted]

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        return self._message(self._chat(chat_id), message_id)

    def last_message(self, chat_id: int) -> StoredMessage | None:
        found = self.messages(chat_id)
        return found[-1] if found else None

    def chat_version(self, chat_id: int) -> int:
        chat = self.chats.get(chat_id)
        return chat.version if chat else 0

    def is_blocked(self, user_id: int, bot: BotRef = None) -> bool:
        return (self._bot(bot).id, user_id) in self._blocked

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every change, never by sleeping."""
        if not await self._changed.wait_until(predicate, timeout):
            raise TimeoutError(f"condition not met within {timeout}s")

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[StoredMessage], bool] | None = None,
        timeout: float = 5.0,
        *,
        after: int = 0,
    ) -> StoredMessage:
        """First message in the chat with id > ``after`` matching ``predicate`` (default: sent by a bot).

        Predicates see the current state, so ``lambda m: m.edit_count > 0`` waits for an edit.
        """
        check = predicate or (lambda m: m.from_bot)
        found: list[StoredMessage] = []

        def ready() -> bool:
            found[:] = [m for m in self.messages(chat_id) if m.message_id > after and check(m)][:1]
            return bool(found)

        if not await self._changed.wait_until(ready, timeout):
            recent = [(m.message_id, m.sender.get("username"), m.text) for m in self.messages(chat_id)[-5:]]
            raise TimeoutError(f"no matching message in chat {chat_id} within {timeout}s; last: {recent}")
        return found[0]

    def pending_updates(self, bot: BotRef = None) -> list[dict[str, Any]]:
        return list(self._bot(bot).pending)

    def commands(
        self, bot: BotRef = None, *, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        account = self._bot(bot)
        try:
            key = self._commands_key(scope, language_code)
        except ApiError as exc:
            raise ControlError(exc.description) from None
        return list(account.commands.get(key, []))

    def webhook(self, bot: BotRef = None) -> WebhookConfig | None:
        return self._bot(bot).webhook

    def events_since(self, since: int = 0) -> list[dict[str, Any]]:
        return [event for event in self._events if event["id"] > since]

    async def wait_events(self, since: int = 0, timeout: float = 25.0) -> list[dict[str, Any]]:
        await self._changed.wait_until(lambda: self._last_event_id > since or self._closing, timeout)
        return self.events_since(since)

    def snapshot(self) -> dict[str, Any]:
        return {
            "bots": [bot.to_dict() for bot in self.bots.values()],
            "users": [user.to_api() for user in self.users.values() if not user.is_bot],
            "chats": [chat.to_dict() for chat in self.chats.values()],
            "blocked": [{"bot_id": b, "user_id": u} for b, u in sorted(self._blocked)],
            "last_event_id": self._last_event_id,
        }

    # -------------------------------------------------------------------------- state helpers

    def _bot(self, ref: BotRef) -> BotAccount:
        if isinstance(ref, BotAccount):
            return ref
        if ref is None:
            if len(self.bots) != 1:
                raise ControlError("say which bot: there is not exactly one registered")
            return next(iter(self.bots.values()))
        if isinstance(ref, int):
            if ref in self._bots_by_id:
                return self._bots_by_id[ref]
        elif ref in self.bots:
            return self.bots[ref]
        else:
            for account in self.bots.values():
                if account.username.lower() == ref.lstrip("@").lower():
                    return account
        raise ControlError(f"unknown bot {ref!r}", 404)

    def _user(self, user_id: int) -> UserAccount:
        user = self.users.get(user_id)
        if user is None:
            raise ControlError(f"unknown user {user_id}", 404)
        return user

    def _chat(self, chat_id: int) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ControlError(f"unknown chat {chat_id}", 404)
        return chat

    def _message(self, chat: Chat, message_id: int) -> StoredMessage:
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise ControlError(f"message {message_id} not found in chat {chat.id}", 404)
        return message

    def _user_writable_chat(self, user: UserAccount, chat: Chat | None, chat_id: int) -> Chat:
        if chat is None:
            raise ControlError(f"unknown chat {chat_id}", 404)
        if chat.migrated_to is not None:
            raise ControlError(f"chat {chat_id} was upgraded to supergroup {chat.migrated_to}")
        if chat.type == "private" and chat.id != user.id:
            raise ControlError("users can only write in their own private chat")
        if chat.members.get(user.id) not in ACTIVE_STATUSES:
            raise ControlError(f"user {user.id} is not a member of chat {chat_id}")
        return chat

    def _group_actor(self, chat: Chat) -> int | None:
        """Who performs group-level actions by default: the creator, else an admin, else anyone human."""
        for wanted in ("creator", "administrator", "member"):
            for user_id, status in chat.members.items():
                if status == wanted and not self.users[user_id].is_bot:
                    return user_id
        return None

    def _member_api(self, user: UserAccount, status: str) -> dict[str, Any]:
        data: dict[str, Any] = {"status": status, "user": user.to_api()}
        if status == "creator":
            data["is_anonymous"] = False
        elif status == "administrator":
            data.update(ADMIN_RIGHTS)
        elif status == "kicked":
            data["until_date"] = 0
        return data

    def _private_member_update(
        self, account: BotAccount, user: UserAccount, chat: Chat, old: str, new: str
    ) -> None:
        self._enqueue(
            account,
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": user.to_api(),
                "date": _now(),
                "old_chat_member": self._member_api(account.user, old),
                "new_chat_member": self._member_api(account.user, new),
            },
        )

    def _touch(self, chat: Chat) -> None:
        chat.version += 1
        self._changed.fire()

    def _emit(self, kind: str, **data: Any) -> None:
        self._last_event_id += 1
        self._events.append({"id": self._last_event_id, "type": kind, "time": time.time(), **data})
        self._changed.fire()

    def _store(
        self,
        chat: Chat,
        sender: UserAccount,
        *,
        text: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_markup: dict[str, Any] | None = None,
        reply_keyboard: dict[str, Any] | None = None,
        reply_to: StoredMessage | None = None,
        parse_mode: str | None = None,
        service: dict[str, Any] | None = None,
    ) -> StoredMessage:
        message = StoredMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id,
            date=_now(),
            sender=sender.to_api(),
            chat=chat.to_api(),
            text=text,
            entities=entities or [],
            reply_markup=reply_markup,
            reply_keyboard=reply_keyboard,
            reply_to=reply_to,
            parse_mode=parse_mode,
            service=service or {},
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        self._touch(chat)
        self._emit("message", chat_id=chat.id, message=message.to_dict())
        return message

    def _recipients(self, chat: Chat) -> list[BotAccount]:
        if chat.type == "private":
            account = self._bots_by_id.get(chat.bot_id or 0)
            return [account] if account else []
        return [account for account in self.bots.values() if chat.members.get(account.id) in ACTIVE_STATUSES]

    def _deliver(
        self, chat: Chat, kind: str, payload: dict[str, Any], *, include_sender: bool = False
    ) -> None:
        sender_id = payload.get("from", {}).get("id")
        for account in self._recipients(chat):
            # Telegram never shows a bot its own messages, nor other bots' messages in groups.
            if include_sender or account.id != sender_id:
                self._enqueue(account, kind, payload)

    def _enqueue(self, bot: BotAccount, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        if kind not in (bot.allowed_updates or DEFAULT_ALLOWED_UPDATES):
            return None  # Telegram does not even create updates a bot opted out of
        update = {"update_id": next(self._update_ids), kind: payload}
        bot.pending.append(update)
        bot.signal.fire()
        self._changed.fire()
        return update

    # ------------------------------------------------------------------------- Bot API plumbing

    def _register_methods(self) -> None:
        handlers: dict[str, ApiHandler] = {
            "getMe": self._api_get_me,
            "getUpdates": self._api_get_updates,
            "sendMessage": self._api_send_message,
            "editMessageText": self._api_edit_message_text,
            "editMessageReplyMarkup": self._api_edit_message_reply_markup,
            "deleteMessage": self._api_delete_message,
            "answerCallbackQuery": self._api_answer_callback_query,
            "sendChatAction": self._api_send_chat_action,
            "setMyCommands": self._api_set_my_commands,
            "getMyCommands": self._api_get_my_commands,
            "deleteMyCommands": self._api_delete_my_commands,
            "getChat": self._api_get_chat,
            "getChatMember": self._api_get_chat_member,
            "getChatAdministrators": self._api_get_chat_administrators,
            "getChatMemberCount": self._api_get_chat_member_count,
            "setWebhook": self._api_set_webhook,
            "deleteWebhook": self._api_delete_webhook,
            "getWebhookInfo": self._api_get_webhook_info,
            "close": self._api_true,
            "logOut": self._api_true,
            "setMyDescription": self._api_true,
            "setMyShortDescription": self._api_true,
            "setMyName": self._api_true,
            "setChatMenuButton": self._api_true,
        }
        # Telegram method names are case-insensitive.
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    async def call_api(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Run one Bot API call as ``token``; returns (HTTP status, Telegram envelope)."""
        bot = self.bots.get(token)
        if bot is None:
            self.stats.errors[401] += 1
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        entry = self._methods.get(method.lower())
        self.stats.calls[entry[0] if entry else method] += 1
        if entry is None:
            self.stats.errors[404] += 1
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        name, handler = entry
        try:
            p = _Params(params)
            self._apply_injection(bot, name.lower(), p)
            result = await handler(bot, p)
        except ApiError as exc:
            self.stats.errors[exc.code] += 1
            if exc.code == 429:
                self.stats.too_many_requests += 1
            return exc.code, exc.envelope()
        return 200, {"ok": True, "result": result}

    def _apply_injection(self, bot: BotAccount, method: str, p: _Params) -> None:
        chat_id = _as_int(p.raw.get("chat_id"))
        for injection in self._injections:
            if injection.bot_id not in (None, bot.id):
                continue
            if injection.chat_id is not None and injection.chat_id != chat_id:
                continue
            if injection.methods is None and method == "getupdates":
                continue
            if injection.methods is not None and method not in injection.methods:
                continue
            injection.remaining -= 1
            if injection.remaining <= 0:
                self._injections.remove(injection)
            raise too_many_requests(injection.retry_after)

    def _consume_flood(self, bot: BotAccount, chat: Chat) -> None:
        """Enforce the broadcast limits for a message-producing call; rejected calls cost nothing."""
        limits = self.flood_limits
        if limits is None:
            return
        now = self._clock()
        state = bot.flood
        while state.recent and state.recent[0] <= now - 1.0:
            state.recent.popleft()
        waits: list[float] = []
        if len(state.recent) >= limits.global_per_second:
            waits.append(state.recent[0] + 1.0 - now)
        tokens = float(limits.private_burst)
        window: deque[float] | None = None
        if chat.type == "private":
            tokens, updated = state.private_buckets.get(chat.id, (float(limits.private_burst), now))
            tokens = min(float(limits.private_burst), tokens + (now - updated) * limits.private_per_second)
            if tokens < 1.0:
                waits.append((1.0 - tokens) / limits.private_per_second)
        else:
            window = state.group_windows.setdefault(chat.id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= limits.group_per_minute:
                waits.append(window[0] + 60.0 - now)
        if waits:
            raise too_many_requests(max(1, math.ceil(max(waits))))
        state.recent.append(now)
        if window is not None:
            window.append(now)
        else:
            state.private_buckets[chat.id] = (tokens - 1.0, now)

    def _lookup_chat(self, raw: Any) -> Chat | None:
        if isinstance(raw, str) and raw.startswith("@"):
            # Only public groups are addressable by @username; users are not.
            name = raw[1:].lower()
            found = (
                c for c in self.chats.values() if c.type != "private" and (c.username or "").lower() == name
            )
            return next(found, None)
        chat_id = _as_int(raw)
        return None if chat_id is None else self.chats.get(chat_id)

    def _api_chat(self, bot: BotAccount, p: _Params, *, write: bool) -> Chat:
        """Resolve chat_id the way Telegram does for this bot, with Telegram's refusals."""
        raw = p.raw.get("chat_id")
        if raw in (None, ""):
            raise bad_request("chat_id is empty")
        chat = self._lookup_chat(raw)
        chat_id = _as_int(raw)
        if chat is None or (chat.type == "private" and chat.bot_id != bot.id):
            if write and chat_id is not None and chat_id in self.users and chat_id > 0:
                raise forbidden("bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": chat.migrated_to}
            )
        if chat.type == "private":
            if write and (bot.id, chat.id) in self._blocked:
                raise forbidden("bot was blocked by the user")
            return chat
        status = chat.members.get(bot.id)
        if status in ACTIVE_STATUSES:
            return chat
        if not write:
            raise bad_request("chat not found")
        kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        raise forbidden(f"bot is not a member of the {kind}")

    def _text_param(self, p: _Params) -> tuple[str, list[dict[str, Any]], str | None]:
        raw = p.get_str("text") or ""
        parse_mode = p.get_str("parse_mode") or None
        explicit = p.get_json("entities")
        if explicit:
            text, entities = raw, list(explicit)
        else:
            text, entities = parse_entities(raw, parse_mode)
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return text, entities, parse_mode

    def _markup_param(self, p: _Params) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Split reply_markup into (inline keyboard as Telegram returns it, any other keyboard)."""
        markup = p.get_json("reply_markup")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return _validate_inline_keyboard(markup["inline_keyboard"]), None
        if any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            return None, markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _reply_param(self, chat: Chat, p: _Params) -> StoredMessage | None:
        parameters = p.get_json("reply_parameters")
        if isinstance(parameters, dict):
            message_id = _as_int(parameters.get("message_id"))
            allow_missing = bool(parameters.get("allow_sending_without_reply"))
        else:
            message_id = p.get_int("reply_to_message_id")
            allow_missing = p.get_bool("allow_sending_without_reply")
        if not message_id:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return target

    def _editable_message(self, bot: BotAccount, p: _Params) -> tuple[Chat, StoredMessage]:
        if p.present("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline mode is not part of the fake
        chat = self._api_chat(bot, p, write=True)
        message_id = p.get_int("message_id")
        if not message_id:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if message.sender_id != bot.id:
            raise bad_request("message can't be edited")
        return chat, message

    def _commands_key(self, scope: Any, language_code: str | None) -> str:
        if scope in (None, ""):
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        parts = [scope["type"]]
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            chat = self._lookup_chat(scope.get("chat_id"))
            if chat is None:
                raise bad_request("chat not found")
            parts.append(str(chat.id))
        if scope["type"] == "chat_member":
            user_id = _as_int(scope.get("user_id"))
            if user_id is None or user_id not in self.users:
                raise bad_request("user not found")
            parts.append(str(user_id))
        language = language_code or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return f"{':'.join(parts)}|{language}"

    # ----------------------------------------------------------------------- Bot API methods

    async def _api_true(self, bot: BotAccount, p: _Params) -> bool:
        return True

    async def _api_get_me(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        return bot.get_me()

    async def _api_get_updates(self, bot: BotAccount, p: _Params) -> list[dict[str, Any]]:
        if bot.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get_int("offset", 0) or 0
        limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
        timeout = min(max(p.get_int("timeout", 0) or 0, 0), MAX_POLL_TIMEOUT)
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = frozenset(allowed) or None
        # Confirmation: a later call with offset > update_id forgets that update for good.
        if offset > 0:
            bot.pending = [u for u in bot.pending if u["update_id"] >= offset]
        elif offset < 0:
            bot.pending = bot.pending[offset:]
        self._changed.fire()  # wait_for() callers may be waiting for the queue to drain
        # A newer getUpdates terminates an older one still waiting, exactly like Telegram.
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.signal.fire()
        await bot.signal.wait_until(
            lambda: (
                bool(bot.pending)
                or bot.poll_generation != generation
                or bot.webhook is not None
                or self._closing
            ),
            timeout,
        )
        if bot.poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if bot.webhook is not None:
            raise ApiError(409, "Conflict: terminated by setWebhook request")
        return copy.deepcopy(bot.pending[:limit])

    async def _api_send_message(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat = self._api_chat(bot, p, write=True)
        text, entities, parse_mode = self._text_param(p)
        inline, other = self._markup_param(p)
        reply_to = self._reply_param(chat, p)
        self._consume_flood(bot, chat)
        message = self._store(
            chat,
            bot.user,
            text=text,
            entities=entities,
            reply_markup=inline,
            reply_keyboard=other,
            reply_to=reply_to,
            parse_mode=parse_mode,
        )
        return message.to_api()

    async def _api_edit_message_text(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat, message = self._editable_message(bot, p)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        text, entities, parse_mode = self._text_param(p)
        inline, other = self._markup_param(p)
        if other is not None:
            raise bad_request("REPLY_MARKUP_INVALID")
        # Omitting reply_markup in an edit removes the keyboard, so it is part of the comparison.
        if (text, entities, inline) == (message.text, message.entities, message.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self._consume_flood(bot, chat)
        message.edit_history.append(message.text)
        message.text, message.entities, message.reply_markup = text, entities, inline
        message.parse_mode, message.edit_date = parse_mode, _now()
        self._touch(chat)
        self._emit("edit", chat_id=chat.id, message=message.to_dict())
        return message.to_api()

    async def _api_edit_message_reply_markup(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat, message = self._editable_message(bot, p)
        inline, other = self._markup_param(p)
        if other is not None:
            raise bad_request("REPLY_MARKUP_INVALID")
        if inline == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        message.reply_markup, message.edit_date = inline, _now()
        self._touch(chat)
        self._emit("edit", chat_id=chat.id, message=message.to_dict())
        return message.to_api()

    async def _api_delete_message(self, bot: BotAccount, p: _Params) -> bool:
        chat = self._api_chat(bot, p, write=True)
        message = chat.messages.get(p.get_int("message_id") or 0)
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        own = message.sender_id == bot.id
        if (
            not own
            and chat.type != "private"
            and chat.members.get(bot.id) not in ("creator", "administrator")
        ):
            raise bad_request("message can't be deleted")
        message.deleted = True
        self._touch(chat)
        self._emit("delete", chat_id=chat.id, message_id=message.message_id)
        return True

    async def _api_answer_callback_query(self, bot: BotAccount, p: _Params) -> bool:
        query_id = p.get_str("callback_query_id") or ""
        query = self._queries.get(query_id)
        if query is None or query.bot_id != bot.id or query_id in self.callback_answers:
            raise bad_request(QUERY_INVALID)
        text = p.get_str("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            callback_query_id=query_id,
            user_id=query.user_id,
            chat_id=query.chat_id,
            message_id=query.message_id,
            data=query.data,
            text=text or None,
            show_alert=p.get_bool("show_alert"),
            url=p.get_str("url") or None,
            cache_time=p.get_int("cache_time", 0) or 0,
        )
        self.callback_answers[query_id] = answer
        self._emit("toast", **answer.__dict__)
        return True

    async def _api_send_chat_action(self, bot: BotAccount, p: _Params) -> bool:
        chat = self._api_chat(bot, p, write=True)
        action = p.get_str("action")
        if not action:
            raise bad_request("action is empty")
        self._emit("chat_action", chat_id=chat.id, bot_id=bot.id, action=action)
        return True

    async def _api_set_my_commands(self, bot: BotAccount, p: _Params) -> bool:
        commands = p.get_json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        cleaned: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not COMMAND_NAME_RE.fullmatch(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = self._commands_key(p.get_json("scope"), p.get_str("language_code"))
        if cleaned:
            bot.commands[key] = cleaned
        else:
            bot.commands.pop(key, None)  # an empty list is how Telegram deletes them
        return True

    async def _api_get_my_commands(self, bot: BotAccount, p: _Params) -> list[dict[str, str]]:
        # Exact scope+language lookup: getMyCommands does not apply the client-side fallback chain.
        return list(bot.commands.get(self._commands_key(p.get_json("scope"), p.get_str("language_code")), []))

    async def _api_delete_my_commands(self, bot: BotAccount, p: _Params) -> bool:
        bot.commands.pop(self._commands_key(p.get_json("scope"), p.get_str("language_code")), None)
        return True

    async def _api_get_chat(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat = self._api_chat(bot, p, write=False)
        return chat.to_api() | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _api_get_chat_member(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat = self._api_chat(bot, p, write=False)
        user = self.users.get(p.get_int("user_id") or 0)
        if user is None:
            raise bad_request("user not found")
        status = chat.members.get(user.id, "left")
        if chat.type == "private" and user.id == bot.id and (bot.id, chat.id) in self._blocked:
            status = "kicked"
        return self._member_api(user, status)

    async def _api_get_chat_administrators(self, bot: BotAccount, p: _Params) -> list[dict[str, Any]]:
        chat = self._api_chat(bot, p, write=False)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        return [
            self._member_api(self.users[user_id], status)
            for user_id, status in chat.members.items()
            if status in ("creator", "administrator")
        ]

    async def _api_get_chat_member_count(self, bot: BotAccount, p: _Params) -> int:
        chat = self._api_chat(bot, p, write=False)
        return sum(1 for status in chat.members.values() if status in ACTIVE_STATUSES)

    async def _api_set_webhook(self, bot: BotAccount, p: _Params) -> bool:
        url = p.get_str("url") or ""
        if not url:
            return await self._api_delete_webhook(bot, p)
        if not url.startswith(("https://", "http://")):
            # Telegram insists on HTTPS; the fake also takes http:// so tests can use local servers.
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get_str("secret_token") or None
        if secret is not None and not SECRET_TOKEN_RE.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = frozenset(allowed) or None
        if p.get_bool("drop_pending_updates"):
            bot.pending.clear()
        bot.webhook = WebhookConfig(
            url=url,
            secret_token=secret,
            max_connections=p.get_int("max_connections", 40) or 40,
            ip_address=p.get_str("ip_address") or None,
        )
        self._restart_delivery(bot)
        bot.signal.fire()  # a waiting getUpdates now ends with 409
        self._changed.fire()
        return True

    async def _api_delete_webhook(self, bot: BotAccount, p: _Params) -> bool:
        if p.get_bool("drop_pending_updates"):
            bot.pending.clear()
        bot.webhook = None
        task = self._deliveries.pop(bot.id, None)
        if task is not None:
            task.cancel()
        bot.signal.fire()
        self._changed.fire()
        return True

    async def _api_get_webhook_info(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(bot.pending),
        }
        hook = bot.webhook
        if hook is None:
            return info
        info.update(url=hook.url, max_connections=hook.max_connections)
        if hook.ip_address:
            info["ip_address"] = hook.ip_address
        if hook.last_error_date is not None:
            info.update(last_error_date=hook.last_error_date, last_error_message=hook.last_error_message)
        if bot.allowed_updates:
            info["allowed_updates"] = sorted(bot.allowed_updates)
        return info

    # ----------------------------------------------------------------------- webhook delivery

    def _restart_delivery(self, bot: BotAccount) -> None:
        old = self._deliveries.pop(bot.id, None)
        if old is not None:
            old.cancel()
        self._deliveries[bot.id] = asyncio.get_running_loop().create_task(self._deliver_webhook(bot))

    async def _deliver_webhook(self, bot: BotAccount) -> None:
        """POST pending updates one at a time, in order; an update is confirmed by a 2xx reply."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        while True:
            await bot.signal.wait_until(
                lambda: bool(bot.pending) or bot.webhook is None or self._closing, None
            )
            hook = bot.webhook
            if hook is None or self._closing:
                return
            update = bot.pending[0]
            headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
            try:
                async with self._http.post(hook.url, json=update, headers=headers) as response:
                    if 200 <= response.status < 300:
                        if bot.pending and bot.pending[0] is update:
                            bot.pending.pop(0)
                            self._changed.fire()
                        await self._run_webhook_reply(bot, response)
                        continue
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {exc}"
            hook.last_error_date, hook.last_error_message = _now(), error
            self._changed.fire()
            await asyncio.sleep(self.webhook_retry_delay)

    async def _run_webhook_reply(self, bot: BotAccount, response: aiohttp.ClientResponse) -> None:
        """Telegram executes a method returned in the webhook response body (result is discarded)."""
        params: dict[str, Any] = {}
        with contextlib.suppress(ValueError, aiohttp.ClientError):
            if response.content_type == "application/json":
                body = await response.json()
                params = body if isinstance(body, dict) else {}
            elif response.content_type == "multipart/form-data":
                reader = aiohttp.MultipartReader.from_response(response)
                while (part := await reader.next()) is not None:
                    if isinstance(part, aiohttp.BodyPartReader) and part.name:
                        params[part.name] = await part.text()
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            await self.call_api(bot.token, method, params)

    # --------------------------------------------------------------------------------- HTTP app

    def _build_app(self) -> web.Application:
        """Bot API under /bot{token}/{method}; control API under /_fake/ (JSON in, JSON out).

        Control responses use {"ok": true, "result": ...} or {"ok": false, "description": ...} with
        status 400/404, so a browser page can share one fetch helper with the Bot API. More routes
        (e.g. the demo page) can be added to ``self.app`` before ``start()``.
        """
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        routes = [
            ("GET", "/_fake/state", self._http_state),
            ("POST", "/_fake/bots", self._http_add_bot),
            ("POST", "/_fake/users", self._http_add_user),
            ("POST", "/_fake/chats", self._http_add_chat),
            ("GET", "/_fake/chats/{chat_id}", self._http_get_chat),
            ("GET", "/_fake/chats/{chat_id}/messages", self._http_messages),
            ("POST", "/_fake/chats/{chat_id}/members", self._http_set_member),
            ("POST", "/_fake/send_text", self._http_send_text),
            ("POST", "/_fake/edit_text", self._http_edit_text),
            ("POST", "/_fake/press_button", self._http_press_button),
            ("GET", "/_fake/callback_answers/{query_id}", self._http_callback_answer),
            ("POST", "/_fake/block", self._http_block),
            ("POST", "/_fake/unblock", self._http_unblock),
            ("POST", "/_fake/migrate", self._http_migrate),
            ("POST", "/_fake/inject_retry_after", self._http_inject),
            ("POST", "/_fake/flood", self._http_flood),
            ("GET", "/_fake/events", self._http_events),
            ("GET", "/_fake/stats", self._http_stats),
            ("POST", "/_fake/stats/reset", self._http_reset_stats),
            ("GET", "/_fake/bots/{bot}/updates", self._http_updates),
            ("GET", "/_fake/bots/{bot}/commands", self._http_commands),
        ]
        for verb, path, handler in routes:
            app.router.add_route(verb, path, handler)
        return app

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        control = request.path.startswith("/_fake/")
        if control and request.method == "OPTIONS":
            response: web.StreamResponse = web.Response()
        else:
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                # Telegram answers unknown paths with its JSON envelope, not an HTML page.
                response = _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            except ControlError as exc:
                response = _json_response(exc.status, {"ok": False, "description": str(exc)})
        if control:
            # The demo page may be served from another origin (e.g. a dev server).
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    async def _handle_bot_api(self, request: web.Request) -> web.Response:
        try:
            params = await _read_request_params(request)
        except ValueError:
            status, envelope = 400, bad_request("can't parse JSON object").envelope()
        else:
            status, envelope = await self.call_api(
                request.match_info["token"], request.match_info["method"], params
            )
        self.stats.bytes_in += request.content_length or 0
        response = _json_response(status, envelope)
        self.stats.bytes_out += len(response.body) if isinstance(response.body, bytes) else 0
        return response

    # ------------------------------------------------------------------- HTTP control endpoints

    async def _http_state(self, request: web.Request) -> web.Response:
        return _ok(self.snapshot())

    async def _http_add_bot(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        account = self.add_bot(
            _field(body, "token", str), _field(body, "username", str), body.get("first_name")
        )
        return _ok(account.to_dict())

    async def _http_add_user(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self.add_user(
            _field(body, "id", int),
            _field(body, "first_name", str),
            username=body.get("username"),
            last_name=body.get("last_name"),
            language_code=body.get("language_code"),
        )
        return _ok(user.to_api())

    async def _http_add_chat(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        kind = body.get("type", "group")
        if kind == "private":
            chat = self.add_private_chat(_field(body, "user_id", int), body.get("bot"))
        elif kind in ("group", "supergroup"):
            chat = self.add_group(
                _field(body, "id", int),
                _field(body, "title", str),
                members=body.get("members", []),
                admins=body.get("admins", []),
                creator=body.get("creator"),
                supergroup=kind == "supergroup",
                username=body.get("username"),
                bots=body.get("bots"),
            )
        else:
            raise ControlError("type must be private, group or supergroup")
        return _ok(chat.to_dict())

    async def _http_get_chat(self, request: web.Request) -> web.Response:
        return _ok(self._chat(_path_int(request, "chat_id")).to_dict())

    async def _http_messages(self, request: web.Request) -> web.Response:
        chat = self._chat(_path_int(request, "chat_id"))
        after = _query_int(request, "after", 0)
        include_deleted = request.query.get("include_deleted") in ("1", "true")
        found = self.messages(chat.id, include_deleted=include_deleted)
        return _ok([m.to_dict() for m in found if m.message_id > after])

    async def _http_set_member(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        chat_id = _path_int(request, "chat_id")
        self.set_member(chat_id, _field(body, "user_id", int), _field(body, "status", str))
        return _ok(self._chat(chat_id).to_dict())

    async def _http_send_text(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        message = self.send_text(
            _field(body, "user_id", int),
            _field(body, "chat_id", int),
            _field(body, "text", str),
            body.get("reply_to"),
            bot=body.get("bot"),
        )
        return _ok(message.to_dict())

    async def _http_edit_text(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        message = self.edit_text(
            _field(body, "user_id", int),
            _field(body, "chat_id", int),
            _field(body, "message_id", int),
            _field(body, "text", str),
        )
        return _ok(message.to_dict())

    async def _http_press_button(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        query_id = self.press_button(
            _field(body, "user_id", int),
            _field(body, "chat_id", int),
            _field(body, "message_id", int),
            _field(body, "callback_data", str),
        )
        return _ok({"callback_query_id": query_id})

    async def _http_callback_answer(self, request: web.Request) -> web.Response:
        query_id = request.match_info["query_id"]
        timeout = min(float(request.query.get("timeout", "0") or 0), 60.0)
        if timeout > 0:
            await self._changed.wait_until(
                lambda: query_id in self.callback_answers or self._closing, timeout
            )
        answer = self.callback_answers.get(query_id)
        return _ok(None if answer is None else answer.__dict__)

    async def _http_block(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.block_bot(_field(body, "user_id", int), body.get("bot"))
        return _ok(True)

    async def _http_unblock(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.unblock_bot(_field(body, "user_id", int), body.get("bot"))
        return _ok(True)

    async def _http_migrate(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        chat = self.migrate_group(_field(body, "old_chat_id", int), _field(body, "new_chat_id", int))
        return _ok(chat.to_dict())

    async def _http_inject(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.inject_retry_after(
            _field(body, "retry_after", int),
            int(body.get("count", 1)),
            chat_id=body.get("chat_id"),
            bot=body.get("bot"),
            methods=body.get("methods"),
        )
        return _ok(True)

    async def _http_flood(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if body.get("enabled", True):
            known = FloodLimits.__dataclass_fields__
            self.enable_flood_limits(FloodLimits(**{k: v for k, v in body.items() if k in known}))
        else:
            self.disable_flood_limits()
        return _ok(None if self.flood_limits is None else self.flood_limits.__dict__)

    async def _http_events(self, request: web.Request) -> web.Response:
        since = _query_int(request, "since", 0)
        timeout = min(float(request.query.get("timeout", "25") or 0), 60.0)
        events = await self.wait_events(since, timeout)
        return _ok({"events": events, "last_id": self._last_event_id})

    async def _http_stats(self, request: web.Request) -> web.Response:
        return _ok(self.stats.to_dict())

    async def _http_reset_stats(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return _ok(True)

    async def _http_updates(self, request: web.Request) -> web.Response:
        return _ok(self.pending_updates(request.match_info["bot"]))

    async def _http_commands(self, request: web.Request) -> web.Response:
        scope = request.query.get("scope")
        commands = self.commands(
            request.match_info["bot"],
            scope=json.loads(scope) if scope else None,
            language_code=request.query.get("language_code", ""),
        )
        return _ok(commands)


def _validate_inline_keyboard(rows: Any) -> dict[str, Any] | None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Arrays')
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    actions = (
        "callback_data",
        "url",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    )
    for button in buttons:
        if not isinstance(button, dict) or not str(button.get("text", "")).strip():
            raise bad_request("BUTTON_TEXT_INVALID")
        if not any(key in button for key in actions):
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            size = len(str(button["callback_data"]).encode())
            if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button and not str(button["url"]).startswith(("http://", "https://", "tg://")):
            raise bad_request("BUTTON_URL_INVALID")
    cleaned = [row for row in copy.deepcopy(rows) if row]
    # An empty inline keyboard is no keyboard at all in what Telegram reports back.
    return {"inline_keyboard": cleaned} if cleaned else None


def _json_response(status: int, payload: Any) -> web.Response:
    # Compact separators, like Telegram's own responses.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return web.Response(status=status, text=text, content_type="application/json")


def _ok(result: Any) -> web.Response:
    return _json_response(200, {"ok": True, "result": result})


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ControlError("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = body.get(name)
    if kind is int and isinstance(value, str):
        value = _as_int(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ControlError(f"{name} is required and must be {kind.__name__}")
    return value


def _path_int(request: web.Request, name: str) -> int:
    value = _as_int(request.match_info[name])
    if value is None:
        raise ControlError(f"{name} must be an integer")
    return value


def _query_int(request: web.Request, name: str, default: int) -> int:
    value = _as_int(request.query.get(name, default))
    return default if value is None else value
