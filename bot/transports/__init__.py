"""Telegram transports: thin adapters from aiogram 3 or python-telegram-bot 22 to the neutral types.

A transport turns native updates into ``bot.chat.port`` events, feeds them to an ``EventSink``
and offers a ``Messenger`` for the replies. Both runtimes behave the same way (same update kinds,
same concurrency, same error mapping), so settings.TRANSPORT can pick either one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import web

from bot import metrics
from bot.chat.port import Chat, ChatKind, Event, EventSink, Messenger, Sender
from bot.config import Settings

__all__ = ["Transport", "create_transport"]

logger = logging.getLogger(__name__)
updates_log = logging.getLogger("bot.updates")  # one line per update: id and outcome

PLATFORM = "telegram"
# Everything Yishi reacts to; other kinds are never even created by Telegram.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
POLL_TIMEOUT = 30  # seconds a getUpdates call waits; Telegram caps it at 50
MAX_CONCURRENT_UPDATES = 256  # the same for both runtimes; lets ballot presses share transactions
DRAIN_TIMEOUT = 30.0  # how long a stop waits for updates already being handled
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ADMIN_STATUSES = frozenset({"creator", "administrator"})


class Transport(Protocol):
    """One Telegram bot connection: start, receive by polling or webhook, close."""

    @property
    def messenger(self) -> Messenger: ...

    async def start(self) -> None:
        """Check the token (getMe) and learn the bot's username; ready to receive."""

    async def run_polling(self, stop: asyncio.Event) -> None:
        """Long-poll until ``stop`` is set, then finish the updates in hand and return."""

    async def run_webhook(self, url: str, stop: asyncio.Event) -> None:
        """Register ``url`` and serve it on WEBHOOK_HOST:WEBHOOK_PORT until ``stop``; then delete the webhook."""

    async def close(self) -> None:
        """Release HTTP sessions; safe to call more than once."""


def create_transport(settings: Settings, sink: EventSink) -> Transport:
    if not settings.BOT_TOKEN:
        raise ValueError("BOT_TOKEN is not set")
    # Imported lazily: each runtime pulls in a whole framework.
    if settings.TRANSPORT == "aiogram":
        from bot.transports.aiogram_runtime import AiogramTransport

        return AiogramTransport(settings, sink)
    if settings.TRANSPORT == "ptb":
        from bot.transports.ptb_runtime import PtbTransport

        return PtbTransport(settings, sink)
    raise ValueError(f"unknown transport {settings.TRANSPORT!r}")


# ------------------------------------------------------------------ helpers shared by both runtimes


def make_sender(user_id: int, full_name: str, language_code: str | None, is_bot: bool) -> Sender:
    return Sender(platform=PLATFORM, user_id=str(user_id), display_name=full_name,
                  language_code=language_code, is_bot=is_bot)


def make_chat(chat_id: int, chat_type: object, title: str | None) -> Chat:
    kind: ChatKind = "private" if plain(chat_type) == "private" else "group"
    return Chat(platform=PLATFORM, chat_id=str(chat_id), kind=kind, title=title or "")


def plain(value: object) -> str:
    """The string behind a framework enum (ChatType, ChatMemberStatus): their hashes differ from str's."""
    return str(getattr(value, "value", value))


def chat_ref(chat_id: str) -> int | str:
    """Telegram wants numeric ids as integers; "@channel" names stay strings."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def command_language(language: str | None) -> str | None:
    """setMyCommands takes a two-letter ISO 639-1 code: "zh_CN" -> "zh"."""
    if not language:
        return None
    return language.replace("-", "_").split("_", 1)[0].lower()


def start_url(bot_username: str, start: str) -> str:
    return f"https://t.me/{bot_username}?start={start}"


def webhook_secret(settings: Settings) -> str:
    # token_urlsafe uses only A-Z a-z 0-9 _ -, the characters Telegram allows.
    return settings.WEBHOOK_SECRET or secrets.token_urlsafe(32)


def webhook_path(url: str) -> str:
    """The local route: the public URL's path, which a reverse proxy normally keeps."""
    return urlsplit(url).path or "/"


def secret_matches(request: web.Request, secret: str) -> bool:
    return secrets.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), secret.encode())


@contextlib.asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[None]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        logger.info("webhook server listening on %s:%s", host, port)
        yield
    finally:
        await runner.cleanup()


async def feed_safely(sink: EventSink, event: Event, messenger: Messenger, transport: str = "") -> None:
    """The sink should never raise; if it does, one update is lost, not the transport.

    One log line per update (its id and outcome), counted in /metrics by transport and outcome.
    """
    started = time.perf_counter()
    outcome: str = "failed"
    try:
        outcome = await sink.feed(event, messenger) or "handled"
    except Exception:
        logger.exception("event sink failed on update %s (%s)", event.update_id, type(event).__name__)
    finally:
        seconds = time.perf_counter() - started
        metrics.UPDATES.labels(transport=transport or "unknown", outcome=outcome).inc()
        metrics.UPDATE_SECONDS.labels(transport=transport or "unknown").observe(seconds)
        updates_log.info("update %s %s (%s) in %.0f ms", event.update_id, outcome, type(event).__name__,
                         seconds * 1000, extra={"update_id": event.update_id, "outcome": outcome,
                                                "event": type(event).__name__, "ms": round(seconds * 1000)})
