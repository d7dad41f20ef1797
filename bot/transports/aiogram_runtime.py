"""The aiogram 3 runtime: a Bot, a Dispatcher with one catch-all Router, and a Messenger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from aiogram import Bot, Dispatcher, Router
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
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.config import Settings
from bot.handlers.types import (
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
    Sender,
    SentMessage,
)
from bot.transports import (
    ADMIN_STATUSES,
    ALLOWED_UPDATES,
    DRAIN_TIMEOUT,
    MAX_CONCURRENT_UPDATES,
    PLATFORM,
    POLL_TIMEOUT,
    chat_ref,
    command_language,
    feed_safely,
    make_chat,
    make_sender,
    plain,
    serving,
    start_url,
    webhook_path,
    webhook_secret,
)

logger = logging.getLogger(__name__)

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
    if message.text is None or message.from_user is None:
        return None  # photos, stickers, service messages, channel posts: not Yishi's business
    replied = message.reply_to_message
    return IncomingMessage(
        update_id=update_id, sender=_sender(message.from_user), chat=chat,
        message_id=str(message.message_id), text=message.text,
        reply_to_text=None if replied is None else (replied.text or replied.caption),
    )


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


class AiogramTransport:
    def __init__(self, settings: Settings, sink: EventSink) -> None:
        assert settings.BOT_TOKEN
        self._settings = settings
        self._sink = sink
        self._tls = settings.TELEGRAM_API_BASE.startswith("https://")
        self._session = AiohttpSession(api=TelegramAPIServer.from_base(settings.TELEGRAM_API_BASE))
        self._bot = Bot(settings.BOT_TOKEN, session=self._session)
        self._closed = False
        self._messenger = AiogramMessenger(self._bot)
        # aiogram's handle_as_tasks neither bounds nor awaits its tasks on stop, so the transport
        # spawns (and later drains) them itself; the dispatcher only routes, sequentially.
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_UPDATES)
        self._inflight: set[asyncio.Task[None]] = set()
        self._polling_started = asyncio.Event()
        self._dp = Dispatcher(disable_fsm=True)  # no conversation state: handlers keep their own
        self._dp.startup.register(self._on_startup)
        router = Router(name="yishi")
        router.message()(self._on_message)
        router.callback_query()(self._on_query)
        router.my_chat_member()(self._on_member)
        self._dp.include_router(router)

    @property
    def messenger(self) -> AiogramMessenger:
        return self._messenger

    async def start(self) -> None:
        me = await self._bot.me()
        self._messenger.bot_username = me.username or ""
        logger.info("aiogram transport ready as @%s", me.username)

    async def _on_startup(self) -> None:
        self._polling_started.set()

    # aiogram passes the raw Update as the ``event_update`` keyword.
    async def _on_message(self, message: Message, event_update: Update) -> None:
        await self._dispatch(_from_message(message, event_update.update_id))

    async def _on_query(self, callback_query: CallbackQuery, event_update: Update) -> None:
        await self._dispatch(_from_query(callback_query, event_update.update_id))

    async def _on_member(self, my_chat_member: ChatMemberUpdated, event_update: Update) -> None:
        await self._dispatch(_from_member(my_chat_member, event_update.update_id))

    async def _dispatch(self, event: Event | None) -> None:
        if event is None:
            return
        await self._slots.acquire()  # back-pressure: the poll loop waits when 64 are in flight
        task = asyncio.create_task(feed_safely(self._sink, event, self._messenger))
        self._inflight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _drain(self) -> None:
        if not self._inflight:
            return
        _, pending = await asyncio.wait(set(self._inflight), timeout=DRAIN_TIMEOUT)
        if pending:
            logger.warning("cancelling %d updates still in hand after %ss", len(pending), DRAIN_TIMEOUT)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def run_polling(self, stop: asyncio.Event) -> None:
        # getUpdates is refused while a webhook is set (PTB's updater does the same at start).
        await self._bot.delete_webhook(drop_pending_updates=False)
        self._polling_started.clear()
        polling = asyncio.create_task(self._dp.start_polling(
            self._bot, polling_timeout=POLL_TIMEOUT, handle_as_tasks=False, allowed_updates=list(ALLOWED_UPDATES),
            handle_signals=False, close_bot_session=False,
        ))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            try:
                await self._end_polling(polling)
            finally:
                await self._drain()

    async def _end_polling(self, polling: asyncio.Task[None]) -> None:
        if not polling.done():
            # stop_polling() raises until start_polling() has taken its lock and run startup; and
            # it, unlike cancelling the task, also stops the poll loop start_polling() spawned.
            started = asyncio.create_task(self._polling_started.wait())
            await asyncio.wait({polling, started}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            if not polling.done():
                await self._dp.stop_polling()
        await polling  # re-raises a failed start (e.g. a rejected token)

    async def run_webhook(self, url: str, stop: asyncio.Event) -> None:
        secret = webhook_secret(self._settings)
        app = web.Application()
        # aiogram's own handler checks the secret (401 otherwise). Routed by hand rather than with
        # register(), which would also close the bot session when the web app shuts down.
        handler = SimpleRequestHandler(self._dp, self._bot, handle_in_background=False, secret_token=secret)
        app.router.add_post(webhook_path(url), handler.handle)
        try:
            async with serving(app, self._settings.WEBHOOK_HOST, self._settings.WEBHOOK_PORT):
                await self._bot.set_webhook(url, allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False,
                                            secret_token=secret)
                try:
                    await stop.wait()
                finally:
                    await self._bot.delete_webhook(drop_pending_updates=False)
        finally:
            await self._drain()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._tls:
            # AiohttpSession.close() waits 250 ms for TLS shutdown; plain HTTP (a local API server
            # or the fake) has none, so close the aiohttp session first and make that wait a no-op.
            await (await self._session.create_session()).close()
        await self._session.close()
