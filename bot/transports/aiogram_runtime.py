"""The aiogram 3 runtime: a Bot, its Update parsing, and a Messenger; receiving is bot.transports.intake's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator, Sequence

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, EditMessageText, GetUpdates, SendMessage
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    PhotoSize,
    ReplyParameters,
    Update,
    User,
)
from aiohttp import web

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
# aiogram parses every reply as Response[<the method's result>]; pydantic keeps such parametrized
# models in a weak cache, so after a garbage collection the next call builds the model again
# (milliseconds; ~5% of the event loop while a vote is busy). Held here, they are built once.
_RESPONSE_TYPES = tuple(Response[method.__returning__]  # type: ignore[name-defined]
                        for method in (AnswerCallbackQuery, EditMessageText, GetUpdates, SendMessage))

_SCOPES = {
    "private": BotCommandScopeAllPrivateChats,
    "groups": BotCommandScopeAllGroupChats,
    "group_admins": BotCommandScopeAllChatAdministrators,
}


@contextlib.contextmanager
def _mapped_errors() -> Iterator[None]:
    """aiogram's exceptions -> MessengerError, so handlers never import a framework."""
    try:
        yield
    except TelegramRetryAfter as exc:
        raise MessengerError(exc.message, retry_after=float(exc.retry_after)) from exc
    except TelegramMigrateToChat as exc:
        raise MessengerError(exc.message, migrate_to=str(exc.migrate_to_chat_id)) from exc
    except TelegramForbiddenError as exc:
        raise MessengerError(exc.message, blocked=True) from exc
    except TelegramAPIError as exc:  # bad requests, server and network errors
        raise MessengerError(exc.message, not_modified="message is not modified" in exc.message.lower(),
                             transient=isinstance(exc, TelegramNetworkError | TelegramServerError)) from exc


class AiogramMessenger:
    platform = PLATFORM

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self.bot_username = ""  # set by AiogramTransport.start (getMe)

    def _keyboard(self, message: OutMessage) -> InlineKeyboardMarkup | None:
        if not message.actions:
            return None
        return InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=a.label, callback_data=a.data) if a.data is not None
             else InlineKeyboardButton(text=a.label, url=start_url(self.bot_username, a.start or ""))
             for a in row]
            for row in message.actions
        ])

    async def send(self, chat_id: str, message: OutMessage, *, reply_to: str | None = None) -> SentMessage:
        reply = None if reply_to is None else ReplyParameters(message_id=int(reply_to),
                                                               allow_sending_without_reply=True)
        with _mapped_errors():
            sent = await self._bot.send_message(
                chat_id=chat_ref(chat_id), text=message.text, reply_markup=self._keyboard(message),
                reply_parameters=reply, link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        return SentMessage(chat_id=str(sent.chat.id), message_id=str(sent.message_id))

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        try:
            with _mapped_errors():
                await self._bot.edit_message_text(
                    text=message.text, chat_id=chat_ref(chat_id), message_id=int(message_id),
                    reply_markup=self._keyboard(message), link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except MessengerError as exc:
            if not exc.not_modified:  # showing the same thing again is success
                raise

    async def send_photo(self, chat_id: str, file_id: str, caption: str) -> SentMessage:
        with _mapped_errors():
            sent = await self._bot.send_photo(chat_id=chat_ref(chat_id), photo=file_id,
                                              caption=caption[:MAX_CAPTION] or None)
        return SentMessage(chat_id=str(sent.chat.id), message_id=str(sent.message_id))

    async def send_document(self, chat_id: str, filename: str, content: bytes, caption: str) -> SentMessage:
        with _mapped_errors():
            sent = await self._bot.send_document(chat_id=chat_ref(chat_id),
                                                 document=BufferedInputFile(content, filename=filename),
                                                 caption=caption[:MAX_CAPTION] or None)
        return SentMessage(chat_id=str(sent.chat.id), message_id=str(sent.message_id))

    async def toast(self, press: ButtonPress, text: str, *, alert: bool = False) -> None:
        with _mapped_errors():
            await self._bot.answer_callback_query(press.press_id, text=text, show_alert=alert)

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool:
        try:
            member = await self._bot.get_chat_member(chat_id=chat_ref(chat_id), user_id=int(user_id))
        except TelegramAPIError:
            return False
        return plain(member.status) in ADMIN_STATUSES

    async def set_commands(self, commands: list[CommandInfo], *, scope: CommandScope,
                           language: str | None) -> None:
        with _mapped_errors():
            await self._bot.set_my_commands(
                [BotCommand(command=c.command, description=c.description) for c in commands],
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
        update_id=update_id,
        sender=_sender(query.from_user),
        chat=make_chat(query.message.chat.id, query.message.chat.type, query.message.chat.title),
        message_id=str(query.message.message_id), press_id=query.id, data=query.data,
        buttons=_buttons(query.message),
    )


def _buttons(message: object) -> tuple[str, ...] | None:
    """The callback data on the pressed message, as Telegram reports it (None: the message is not shown)."""
    if not isinstance(message, Message):
        return None  # an InaccessibleMessage: too old or deleted
    markup = message.reply_markup
    rows = markup.inline_keyboard if markup is not None else []
    return tuple(b.callback_data for row in rows for b in row if b.callback_data is not None)


def _from_member(change: ChatMemberUpdated, update_id: int) -> Event:
    return MembershipChange(
        update_id=update_id, chat=make_chat(change.chat.id, change.chat.type, change.chat.title),
        sender=_sender(change.from_user),
        status=plain(change.new_chat_member.status),
    )


def _to_event(update: Update) -> Event | None:
    if update.message is not None:
        return _from_message(update.message, update.update_id)
    if update.callback_query is not None:
        return _from_query(update.callback_query, update.update_id)
    if update.my_chat_member is not None:
        return _from_member(update.my_chat_member, update.update_id)
    return None


class AiogramTransport:
    def __init__(self, settings: Settings, sink: EventSink) -> None:
        assert settings.BOT_TOKEN
        self._settings = settings
        self._tls = settings.TELEGRAM_API_BASE.startswith("https://")
        self._session = AiohttpSession(api=TelegramAPIServer.from_base(settings.TELEGRAM_API_BASE))
        self._bot = Bot(settings.BOT_TOKEN, session=self._session)
        self._closed = False
        self._messenger = AiogramMessenger(self._bot)
        # aiogram's Dispatcher confirms a batch before handling it; Yishi polls through the Bot itself.
        self._intake = Intake(sink, self._messenger, self._decode, PLATFORM, settings.BOT_TOKEN, "aiogram")

    @property
    def messenger(self) -> AiogramMessenger:
        return self._messenger

    async def start(self) -> None:
        me = await self._bot.me()
        self._messenger.bot_username = me.username or ""
        logger.info("aiogram transport ready as @%s", me.username)

    def _parse(self, data: object) -> Update:
        return Update.model_validate(data, context={"bot": self._bot})

    def _decode(self, raw: str) -> Event | None:
        return _to_event(self._parse(json.loads(raw)))

    async def _fetch(self, offset: int | None, timeout: int) -> Sequence[Received]:
        updates = await self._bot.get_updates(offset=offset, timeout=timeout, allowed_updates=list(ALLOWED_UPDATES),
                                              request_timeout=timeout + 30)
        return [Received(u.update_id, u.model_dump_json(exclude_unset=True, by_alias=True), _to_event(u))
                for u in updates]

    async def run_polling(self, stop: asyncio.Event) -> None:
        # getUpdates is refused while a webhook is set.
        await self._bot.delete_webhook(drop_pending_updates=False)
        maintenance = await self._intake.open()
        try:
            await self._intake.poll(self._fetch, stop)
        finally:
            await self._intake.close(maintenance)

    async def run_webhook(self, url: str, stop: asyncio.Event) -> None:
        secret = webhook_secret(self._settings)
        app = web.Application()
        app.router.add_post(webhook_path(url), self._intake.webhook_handler(secret))
        maintenance = await self._intake.open()
        try:
            async with serving(app, self._settings.WEBHOOK_HOST, self._settings.WEBHOOK_PORT):
                await self._bot.set_webhook(url, allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False,
                                            secret_token=secret)
                try:
                    await stop.wait()
                finally:
                    await self._bot.delete_webhook(drop_pending_updates=False)
        finally:
            await self._intake.close(maintenance)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._tls:
            # AiohttpSession.close() waits 250 ms for TLS shutdown; plain HTTP (a local API server
            # or the fake) has none, so close the aiohttp session first and make that wait a no-op.
            await (await self._session.create_session()).close()
        await self._session.close()
