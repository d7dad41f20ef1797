"""An in-memory fake of the Telegram Bot API, served over real HTTP.

Real bot clients (aiogram 3, python-telegram-bot 22) point their base URL at this server and cannot
tell it apart from Telegram for everything Yishi uses: the same URL layout (``/bot{token}/{method}``),
the same request encodings (JSON, urlencoded and multipart forms with JSON-encoded nested fields),
the same response envelope, and the same error texts, status codes and ``parameters`` that the
clients turn into typed exceptions (RetryAfter, ChatMigrated, Forbidden...).

Tests, benchmarks and the local demo drive the "human" side through the control API: the Python
methods of :class:`FakeTelegram` in-process, or the JSON endpoints under ``/_fake/`` from another
process or a browser. Everything lives in memory and runs on one event loop, so no locking is needed.

The package: ``limits`` (Telegram's limits and vocabularies), ``errors``, ``entities`` (text entity
parsing), ``models`` (accounts, chats, messages), ``params`` (request parameters and responses),
``methods`` (the Bot API methods and webhook delivery), ``control`` (the HTTP control API) and this
module, :class:`FakeTelegram` with its in-process control methods. Every public name of the package
stays importable from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import aiohttp
from aiohttp import web

from bot.fakeapi.control import ControlEndpoints
from bot.fakeapi.entities import (
    EntityParseError,
    command_entities,
    parse_entities,
    utf16_len,
)
from bot.fakeapi.errors import (
    ApiError,
    ControlError,
    bad_request,
    forbidden,
    too_many_requests,
)
from bot.fakeapi.limits import (
    ACTIVE_STATUSES,
    ADMIN_RIGHTS,
    COMMAND_ENTITY_RE,
    COMMAND_NAME_RE,
    DEFAULT_ALLOWED_UPDATES,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_EVENTS,
    MAX_INLINE_BUTTONS,
    MAX_POLL_TIMEOUT,
    MAX_TEXT_LENGTH,
    MEMBER_STATUSES,
    NOT_MODIFIED,
    QUERY_INVALID,
    SCOPE_TYPES,
    SECRET_TOKEN_RE,
)
from bot.fakeapi.methods import BotApiMethods
from bot.fakeapi.models import (
    BotAccount,
    BotRef,
    CallbackAnswer,
    Chat,
    FloodLimits,
    Stats,
    StoredFile,
    StoredMessage,
    UserAccount,
    WebhookConfig,
    _Injection,
    _now,
    _PendingQuery,
    _Signal,
)
from bot.fakeapi.params import (
    ApiHandler,
    _json_response,
    _read_request_params,
)

# Every name this module defined before it was split stays importable from it.
__all__ = [
    "ACTIVE_STATUSES",
    "ADMIN_RIGHTS",
    "ApiError",
    "ApiHandler",
    "BotAccount",
    "BotApiMethods",
    "BotRef",
    "COMMAND_ENTITY_RE",
    "COMMAND_NAME_RE",
    "CallbackAnswer",
    "Chat",
    "ControlEndpoints",
    "ControlError",
    "DEFAULT_ALLOWED_UPDATES",
    "EntityParseError",
    "FloodLimits",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_EVENTS",
    "MAX_INLINE_BUTTONS",
    "MAX_POLL_TIMEOUT",
    "MAX_TEXT_LENGTH",
    "MEMBER_STATUSES",
    "NOT_MODIFIED",
    "QUERY_INVALID",
    "SCOPE_TYPES",
    "SECRET_TOKEN_RE",
    "Stats",
    "StoredFile",
    "StoredMessage",
    "UserAccount",
    "WebhookConfig",
    "bad_request",
    "command_entities",
    "forbidden",
    "parse_entities",
    "too_many_requests",
    "utf16_len",
    "FakeTelegram",
]


class FakeTelegram(BotApiMethods, ControlEndpoints):
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
        # Files Telegram keeps (photos users sent): each file id -> every size of its photo, smallest first.
        self.files: dict[str, list[StoredFile]] = {}
        self.stats = Stats()
        self.flood_limits = flood_limits  # None = no flood enforcement
        self.webhook_retry_delay = webhook_retry_delay
        self.base_url = ""
        # Bot API calls under api_base carry this instance's mark: a bot left over from an earlier fake
        # (one whose port the OS gave to this one) is answered 404 instead of editing this fake's chats.
        self.instance = secrets.token_hex(6)
        self.api_base = ""  # what a bot is pointed at (TELEGRAM_API_BASE), set by start()
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
        self.api_base = f"{self.base_url}/i/{self.instance}"
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
        self,
        user_id: int,
        chat_id: int,
        text: str,
        reply_to: int | None = None,
        *,
        bot: BotRef = None,
        unchecked: bool = False,
    ) -> StoredMessage:
        """A user writes in a chat; bots there receive a ``message`` update. Returns the message.

        ``unchecked`` skips Telegram's length limit: a forged update, for security tests.
        """
        user = self._user(user_id)
        chat = self.chats.get(chat_id)
        if chat is None and chat_id == user_id:
            chat = self.add_private_chat(user_id, bot)
        chat = self._user_writable_chat(user, chat, chat_id)
        if not text.strip():
            raise ControlError("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH and not unchecked:
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

    def add_photo(self, size: int = 150_000, width: int = 1280, height: int = 960) -> list[StoredFile]:
        """A photo as Telegram keeps it: a thumbnail and the photo itself, each a file with its own ids."""
        scale = max(width, height) / 90 or 1
        thumb = StoredFile(f"AgACAgUAAxkBAAI{secrets.token_urlsafe(24)}", f"AQAD{secrets.token_urlsafe(8)}",
                           max(1, size // 100), max(1, round(width / scale)), max(1, round(height / scale)))
        full = StoredFile(f"AgACAgUAAxkBAAI{secrets.token_urlsafe(24)}", f"AQAD{secrets.token_urlsafe(8)}",
                          size, width, height)
        sizes = [thumb, full]
        for file in sizes:
            self.files[file.file_id] = sizes
        return sizes

    def send_photo(
        self,
        user_id: int,
        chat_id: int,
        caption: str | None = None,
        *,
        size: int = 150_000,
        width: int = 1280,
        height: int = 960,
        media_group_id: str | None = None,
        file_id: str | None = None,
        forged_file_id: str | None = None,
        bot: BotRef = None,
    ) -> StoredMessage:
        """A user sends a photo (with a caption); bots there receive a ``message`` with ``photo``.

        ``size`` is the photo's size in bytes as Telegram reports it; ``file_id`` sends a photo the fake
        already keeps again; photos of one album share ``media_group_id`` (the caption is on one of them).
        ``forged_file_id``: the update names a file Telegram does not have (a forged update, for security
        tests); sending it back fails like an unknown file id does.
        """
        user = self._user(user_id)
        chat = self.chats.get(chat_id)
        if chat is None and chat_id == user_id:
            chat = self.add_private_chat(user_id, bot)
        chat = self._user_writable_chat(user, chat, chat_id)
        if caption is not None and utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise ControlError("message caption is too long")
        if file_id is not None:
            if file_id not in self.files:
                raise ControlError(f"unknown file {file_id!r}", 404)
            sizes = self.files[file_id]
        else:
            sizes = self.add_photo(size, width, height)
        if forged_file_id is not None:
            fake = StoredFile(forged_file_id, f"AQAD{secrets.token_urlsafe(8)}", size, width, height)
            sizes = [*sizes[:-1], fake]  # not in self.files: Telegram never issued it
        message = self._store(chat, user, photo=[f.photo_size() for f in sizes], caption=caption or None,
                              caption_entities=command_entities(caption) if caption else [],
                              media_group_id=media_group_id)
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

        ``forged``: a modified client sends data the message does not carry, of any length (Telegram
        lets any client send any callback data for a message; the update still shows the message as it
        really is). For security tests.
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
        photo: list[dict[str, Any]] | None = None,
        caption: str | None = None,
        caption_entities: list[dict[str, Any]] | None = None,
        media_group_id: str | None = None,
        document: dict[str, Any] | None = None,
        document_content: bytes | None = None,
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
            photo=photo or [],
            caption=caption,
            caption_entities=caption_entities or [],
            media_group_id=media_group_id,
            document=document,
            document_content=document_content,
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

    # --------------------------------------------------------------------------------- HTTP app

    def _build_app(self) -> web.Application:
        """Bot API under /bot{token}/{method}; control API under /_fake/ (JSON in, JSON out).

        Control responses use {"ok": true, "result": ...} or {"ok": false, "description": ...} with
        status 400/404, so a browser page can share one fetch helper with the Bot API. More routes
        (e.g. the demo page) can be added to ``self.app`` before ``start()``.
        """
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        app.router.add_route("*", "/i/{instance}/bot{token}/{method}", self._handle_bot_api)
        routes = [
            ("GET", "/_fake/state", self._http_state),
            ("POST", "/_fake/bots", self._http_add_bot),
            ("POST", "/_fake/users", self._http_add_user),
            ("POST", "/_fake/chats", self._http_add_chat),
            ("GET", "/_fake/chats/{chat_id}", self._http_get_chat),
            ("GET", "/_fake/chats/{chat_id}/messages", self._http_messages),
            ("POST", "/_fake/chats/{chat_id}/members", self._http_set_member),
            ("POST", "/_fake/send_text", self._http_send_text),
            ("POST", "/_fake/send_photo", self._http_send_photo),
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
        if request.match_info.get("instance", self.instance) != self.instance:
            raise web.HTTPNotFound()
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
