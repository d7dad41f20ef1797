"""State: accounts, chats, stored messages, callback answers, flood limits and statistics."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.tasks import wait_event


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
            if not await wait_event(event, remaining):
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
    photo: list[dict[str, Any]] = field(default_factory=list)  # PhotoSize objects, smallest first
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    media_group_id: str | None = None
    document: dict[str, Any] | None = None  # a Document object (sendDocument)
    document_content: bytes | None = field(default=None, repr=False)  # the uploaded bytes, for tests to read

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
        if self.media_group_id is not None:
            data["media_group_id"] = self.media_group_id
        if self.photo:
            data["photo"] = [dict(size) for size in self.photo]
        if self.document is not None:
            data["document"] = dict(self.document)
        if self.caption is not None:
            data["caption"] = self.caption
        if self.caption_entities:
            data["caption_entities"] = self.caption_entities
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
class StoredFile:
    """A file Telegram keeps; the bytes are not kept, only what the Bot API reports about them."""

    file_id: str
    file_unique_id: str
    file_size: int
    width: int = 0
    height: int = 0

    def photo_size(self) -> dict[str, Any]:
        """As a PhotoSize object."""
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "width": self.width,
                "height": self.height, "file_size": self.file_size}


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




BotRef = str | int | BotAccount | None
