"""Neutral chat types: what every transport turns its updates into, and what handlers ask it to show.

Handlers say what they mean ("a message with these actions", "a toast"); each transport renders
it: Telegram as inline keyboards and edits, WeCom as menus, cards or text with links. Nothing here
knows about aiogram, python-telegram-bot or any wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "Action",
    "ButtonPress",
    "Chat",
    "ChatKind",
    "ChatMigrated",
    "CommandInfo",
    "CommandScope",
    "Event",
    "Delivery",
    "EventSink",
    "IncomingMessage",
    "MAX_ACTION_DATA",
    "MAX_CAPTION",
    "MAX_DOCUMENT_BYTES",
    "MAX_PHOTO_BYTES",
    "MAX_TEXT",
    "MembershipChange",
    "Messenger",
    "MessengerError",
    "OutMessage",
    "Photo",
    "Sender",
    "SentMessage",
]

ChatKind = Literal["private", "group"]
CommandScope = Literal["private", "groups", "group_admins"]

# Telegram's limits, which the neutral layer respects so that every transport can carry its output.
MAX_TEXT = 4096
MAX_ACTION_DATA = 64  # bytes
MAX_CAPTION = 1024  # a photo's caption (Bot API sendPhoto: "0-1024 characters after entities parsing")
# Bot API getFile: "For the moment, bots can download files of up to 20MB in size." A photo larger than
# that could never be fetched by the bot or its handlers' tools, so it is refused.
MAX_PHOTO_BYTES = 20 * 1024 * 1024
# Bot API sendDocument: "Bots can currently send files of any type of up to 50 MB in size."
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Sender:
    platform: str
    user_id: str
    display_name: str = ""
    language_code: str | None = None
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class Chat:
    platform: str
    chat_id: str
    kind: ChatKind
    title: str = ""


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo as the platform keeps it: an id to send it again by, never its bytes.

    ``file_id`` works only for this bot (Telegram); ``file_unique_id`` is the same photo over time and
    for every bot, but cannot be sent. ``size`` is in bytes (0: the platform did not say).
    """

    file_id: str
    file_unique_id: str
    size: int = 0
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A text message (a command or not) in a private chat or a group room.

    A photo message carries its caption as ``text`` and the photo (its largest size) in ``photos``;
    photos sent together as an album arrive as several messages sharing ``media_group_id``.
    """

    update_id: int
    sender: Sender
    chat: Chat
    message_id: str
    text: str
    reply_to_text: str | None = None
    photos: tuple[Photo, ...] = ()
    media_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """A press on an action of a message the bot sent; ``data`` is untrusted.

    ``buttons`` is the data of every action the pressed message carries, as the platform (not the
    presser's client) reports it; None when the platform does not show the message (Telegram: an
    old or deleted message). A client can send any data for any message; the message it reports
    cannot be forged.
    """

    update_id: int
    sender: Sender
    chat: Chat
    message_id: str | None
    press_id: str
    data: str
    buttons: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """The bot's own membership changed: blocked in private ("kicked"), added to or removed from a group."""

    update_id: int
    chat: Chat
    sender: Sender
    status: str  # member | administrator | left | kicked | ...


@dataclass(frozen=True, slots=True)
class ChatMigrated:
    """A group became a supergroup with a new id."""

    update_id: int
    chat: Chat
    new_chat_id: str


Event = IncomingMessage | ButtonPress | MembershipChange | ChatMigrated


@dataclass(frozen=True, slots=True)
class Action:
    """Something the reader can do with a message.

    ``data`` comes back as a ButtonPress; ``start`` opens a private chat with the bot carrying a
    start parameter (Telegram: a t.me deep link; elsewhere: a link or a menu entry).
    """

    label: str
    data: str | None = None
    start: str | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.start is None):
            raise ValueError("an action has exactly one of data or start")
        if self.data is not None and len(self.data.encode()) > MAX_ACTION_DATA:
            raise ValueError(f"action data over {MAX_ACTION_DATA} bytes: {self.data!r}")


@dataclass(frozen=True, slots=True)
class OutMessage:
    text: str
    actions: tuple[tuple[Action, ...], ...] = field(default_factory=tuple)
    # The text holds a credential (a sign-in link): the outbox forgets it once it is delivered or has failed,
    # so the database file never keeps a usable link.
    secret: bool = False

    def __post_init__(self) -> None:
        if not self.text or len(self.text) > MAX_TEXT:
            raise ValueError(f"message text must be 1-{MAX_TEXT} characters, got {len(self.text)}")


@dataclass(frozen=True, slots=True)
class SentMessage:
    chat_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class CommandInfo:
    command: str
    description: str


class MessengerError(Exception):
    """A send or edit that failed; ``retry_after`` when the platform asked us to slow down."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        blocked: bool = False,
        migrate_to: str | None = None,
        not_modified: bool = False,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.blocked = blocked
        self.migrate_to = migrate_to
        self.not_modified = not_modified
        self.transient = transient  # a network or server failure: worth trying again later


class Messenger(Protocol):
    """The port every transport implements for the handlers."""

    platform: str

    @property
    def bot_username(self) -> str:
        """The bot's own name on the platform ("" until known): commands addressed to another bot are ignored.
        Read-only here: a transport may keep it in an attribute or a property."""
        ...

    async def send(self, chat_id: str, message: OutMessage, *, reply_to: str | None = None) -> SentMessage: ...

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None: ...

    async def send_photo(self, chat_id: str, file_id: str, caption: str) -> SentMessage:
        """Send a photo the platform already has, by its file id (no bytes pass through Yishi)."""
        ...

    async def send_document(self, chat_id: str, filename: str, content: bytes, caption: str) -> SentMessage:
        """Upload a file Yishi made (a council document) under ``filename``, with a caption."""
        ...

    async def toast(self, press: ButtonPress, text: str, *, alert: bool = False) -> None: ...

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool: ...

    async def set_commands(self, commands: list[CommandInfo], *, scope: CommandScope, language: str | None) -> None: ...


# What became of an update (logged and counted by the transports): handled here, a duplicate (handled
# already, or in hand here or in another process), or failed (the member got an apology).
Outcome = Literal["handled", "duplicate", "failed"]


class EventSink(Protocol):
    """What a transport feeds: the handlers' entry point; it may say what became of the update."""

    async def feed(self, event: Event, messenger: Messenger) -> Outcome | None: ...


class Delivery(Protocol):
    """A queue every send and edit can go through (the outbox), wrapping a surface's messenger."""

    def messenger(self, inner: Messenger) -> Messenger:
        """``inner`` with its sends and edits going through this queue."""
        ...

    def wraps(self, messenger: Messenger) -> bool:
        """Whether ``messenger`` already sends through this queue."""
        ...

    def wake(self) -> None:
        """Look for newly queued rows now rather than at the next poll."""
        ...
