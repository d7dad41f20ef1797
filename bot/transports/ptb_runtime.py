"""The python-telegram-bot 22 runtime: a Bot, its Update parsing, a Messenger; receiving is in intake.py."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import warnings
from collections.abc import Iterator, Sequence

from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    PhotoSize,
    ReplyParameters,
    Update,
    User,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.error import ChatMigrated as PtbChatMigrated
from telegram.ext import Application, ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.chat.port import (
    MAX_CAPTION,
    ButtonPress,
    ChatMigrated,
    CommandInfo,
    CommandScope,
    Event,
    EventSink,
    IncomingMessage,
    MembershipChange,
    MessengerError,
    OutMessage,
    Photo,
    Sender,
    SentMessage,
)
from bot.config import Settings
from bot.transports import (
    ADMIN_STATUSES,
    ALLOWED_UPDATES,
    MAX_CONCURRENT_UPDATES,
    PLATFORM,
    chat_ref,
    command_language,
    make_chat,
    make_sender,
    plain,
    serving,
    start_url,
    webhook_path,
    webhook_secret,
)
from bot.transports.intake import Intake, Received

logger = logging.getLogger(__name__)

_SCOPES = {
    "private": BotCommandScopeAllPrivateChats,
    "groups": BotCommandScopeAllGroupChats,
    "group_admins": BotCommandScopeAllChatAdministrators,
}


def _seconds(error: RetryAfter) -> float:
    # PTB 22 returns an int (deprecated) or a timedelta (with PTB_TIMEDELTA=true); accept both quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


@contextlib.contextmanager
def _mapped_errors() -> Iterator[None]:
    """PTB's exceptions -> MessengerError, so handlers never import a framework."""
    try:
        yield
    except RetryAfter as exc:
        raise MessengerError(exc.message, retry_after=_seconds(exc)) from exc
    except PtbChatMigrated as exc:
        raise MessengerError(exc.message, migrate_to=str(exc.new_chat_id)) from exc
    except Forbidden as exc:
        raise MessengerError(exc.message, blocked=True) from exc
    except TelegramError as exc:  # bad requests, network errors, timeouts
        transient = isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)  # BadRequest subclasses it
        raise MessengerError(exc.message, not_modified="message is not modified" in exc.message.lower(),
                             transient=transient) from exc


class PtbMessenger:
    platform = PLATFORM

    def __init__(self, bot: ExtBot[None]) -> None:
        self._bot = bot

    @property
    def bot_username(self) -> str:
        try:
            return self._bot.username  # known once the bot is initialized (getMe)
        except RuntimeError:
            return ""

    def _keyboard(self, message: OutMessage) -> InlineKeyboardMarkup | None:
        if not message.actions:
            return None
        return InlineKeyboardMarkup([
            [InlineKeyboardButton(a.label, callback_data=a.data) if a.data is not None
             else InlineKeyboardButton(a.label, url=start_url(self._bot.username, a.start or ""))
             for a in row]
            for row in message.actions
        ])

    async def send(self, chat_id: str, message: OutMessage, *, reply_to: str | None = None) -> SentMessage:
        reply = None if reply_to is None else ReplyParameters(int(reply_to), allow_sending_without_reply=True)
        with _mapped_errors():
            sent = await self._bot.send_message(
                chat_ref(chat_id), message.text, reply_markup=self._keyboard(message), reply_parameters=reply,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        return SentMessage(chat_id=str(sent.chat.id), message_id=str(sent.message_id))

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        try:
            with _mapped_errors():
                await self._bot.edit_message_text(
                    message.text, chat_id=chat_ref(chat_id), message_id=int(message_id),
                    reply_markup=self._keyboard(message), link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except MessengerError as exc:
            if not exc.not_modified:  # showing the same thing again is success
                raise

    async def send_photo(self, chat_id: str, file_id: str, caption: str) -> SentMessage:
        with _mapped_errors():
            sent = await self._bot.send_photo(chat_ref(chat_id), file_id, caption=caption[:MAX_CAPTION] or None)
        return SentMessage(chat_id=str(sent.chat.id), message_id=str(sent.message_id))

    async def send_document(self, chat_id: str, filename: str, content: bytes, caption: str) -> SentMessage:
        with _mapped_errors():
            sent = await self._bot.send_document(chat_ref(chat_id), InputFile(content, filename=filename),
                                                 caption=caption[:MAX_CAPTION] or None)
        return SentMessage(chat_id=str(sent.chat.id), message_id=str(sent.message_id))

    async def toast(self, press: ButtonPress, text: str, *, alert: bool = False) -> None:
        with _mapped_errors():
            await self._bot.answer_callback_query(press.press_id, text=text, show_alert=alert)

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool:
        try:
            member = await self._bot.get_chat_member(chat_ref(chat_id), int(user_id))
        except TelegramError:
            return False
        return plain(member.status) in ADMIN_STATUSES

    async def set_commands(self, commands: list[CommandInfo], *, scope: CommandScope,
                           language: str | None) -> None:
        with _mapped_errors():
            await self._bot.set_my_commands(
                [BotCommand(c.command, c.description) for c in commands],
                scope=_SCOPES[scope](), language_code=command_language(language),
            )


def _sender(user: User) -> Sender:
    return make_sender(user.id, user.full_name, user.language_code, user.is_bot)


def _from_message(message: Message, update_id: int) -> Event | None:
    chat = make_chat(message.chat.id, message.chat.type, message.chat.title)
    if message.migrate_to_chat_id is not None:
        return ChatMigrated(update_id=update_id, chat=chat, new_chat_id=str(message.migrate_to_chat_id))
    if (message.text is None and not message.photo) or message.from_user is None:
        return None  # stickers, files, service messages, channel posts: not Yishi's business
    replied = message.reply_to_message
    # Telegram sends a photo in several sizes, smallest first: the last is the photo as taken.
    photos = () if not message.photo else (_photo(message.photo[-1]),)
    return IncomingMessage(
        update_id=update_id, sender=_sender(message.from_user), chat=chat,
        message_id=str(message.message_id), text=message.text or message.caption or "",
        reply_to_text=None if replied is None else (replied.text or replied.caption),
        photos=photos, media_group_id=message.media_group_id,
    )


def _photo(size: PhotoSize) -> Photo:
    return Photo(size.file_id, size.file_unique_id, size.file_size or 0, size.width, size.height)


def _from_query(query: CallbackQuery, update_id: int) -> Event | None:
    if query.message is None or query.data is None:
        return None  # inline-mode messages and game buttons are not used
    return ButtonPress(
        update_id=update_id, sender=_sender(query.from_user),
        chat=make_chat(query.message.chat.id, query.message.chat.type, query.message.chat.title),
        message_id=str(query.message.message_id), press_id=query.id, data=query.data,
        buttons=_buttons(query.message),
    )


def _buttons(message: object) -> tuple[str, ...] | None:
    """The callback data on the pressed message, as Telegram reports it (None: the message is not shown)."""
    if not isinstance(message, Message):
        return None  # an InaccessibleMessage: too old or deleted
    markup = message.reply_markup
    rows = markup.inline_keyboard if markup is not None else ()
    return tuple(str(b.callback_data) for row in rows for b in row if b.callback_data is not None)


def _from_member(change: ChatMemberUpdated, update_id: int) -> Event:
    return MembershipChange(
        update_id=update_id, chat=make_chat(change.chat.id, change.chat.type, change.chat.title),
        sender=_sender(change.from_user), status=plain(change.new_chat_member.status),
    )


def _to_event(update: Update) -> Event | None:
    if update.message is not None:
        return _from_message(update.message, update.update_id)
    if update.callback_query is not None:
        return _from_query(update.callback_query, update.update_id)
    if update.my_chat_member is not None:
        return _from_member(update.my_chat_member, update.update_id)
    return None


class PtbTransport:
    def __init__(self, settings: Settings, sink: EventSink) -> None:
        assert settings.BOT_TOKEN
        self._settings = settings
        base = settings.TELEGRAM_API_BASE
        # The Application only builds the bot (and its connection pools); it is never started, since its
        # updater confirms a batch before handling it. Yishi polls through the bot itself.
        self._app = (
            Application.builder().token(settings.BOT_TOKEN)
            .base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
            .concurrent_updates(MAX_CONCURRENT_UPDATES)
            .job_queue(None)  # scheduling is Yishi's own business
            .build()
        )
        self._messenger = PtbMessenger(self._app.bot)
        self._intake = Intake(sink, self._messenger, self._decode, PLATFORM, settings.BOT_TOKEN, "ptb")

    @property
    def messenger(self) -> PtbMessenger:
        return self._messenger

    async def start(self) -> None:
        await self._app.initialize()  # getMe, among other things
        logger.info("python-telegram-bot transport ready as @%s", self._app.bot.username)

    def _decode(self, raw: str) -> Event | None:
        update = Update.de_json(json.loads(raw), self._app.bot)
        return None if update is None else _to_event(update)

    async def _fetch(self, offset: int | None, timeout: int) -> Sequence[Received]:
        updates = await self._app.bot.get_updates(offset=offset, timeout=dt.timedelta(seconds=timeout),
                                                  allowed_updates=list(ALLOWED_UPDATES))
        return [Received(u.update_id, u.to_json(), _to_event(u)) for u in updates]

    async def run_polling(self, stop: asyncio.Event) -> None:
        await self._app.bot.delete_webhook(drop_pending_updates=False)  # getUpdates is refused while one is set
        maintenance = await self._intake.open()
        try:
            await self._intake.poll(self._fetch, stop)
        finally:
            await self._intake.close(maintenance)

    async def run_webhook(self, url: str, stop: asyncio.Event) -> None:
        # PTB's own webhook server needs tornado (the [webhooks] extra); the shared aiohttp route
        # checks the secret, stores the update, and only then answers 200.
        secret = webhook_secret(self._settings)
        app = web.Application()
        app.router.add_post(webhook_path(url), self._intake.webhook_handler(secret))
        maintenance = await self._intake.open()
        try:
            async with serving(app, self._settings.WEBHOOK_HOST, self._settings.WEBHOOK_PORT):
                await self._app.bot.set_webhook(url, allowed_updates=list(ALLOWED_UPDATES),
                                                drop_pending_updates=False, secret_token=secret)
                try:
                    await stop.wait()
                finally:
                    await self._app.bot.delete_webhook(drop_pending_updates=False)
        finally:
            await self._intake.close(maintenance)

    async def close(self) -> None:
        await self._app.shutdown()  # a no-op when never initialized or already shut down
