"""Running the bot: database, translations, handlers and one transport, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from bot.config import Settings
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.limits import Limits
from bot.scheduler.context import JobContext
from bot.scheduler.service import SchedulerService
from bot.storage import Database
from bot.storage.keys import resolve_keys
from bot.transports import Transport, create_transport
from bot.web import WebServer

log = logging.getLogger(__name__)


def build_app(settings: Settings, db: Database) -> Yishi:
    return Yishi(db, Translator(settings.DEFAULT_LOCALE), settings.tz)


def build_outbox(settings: Settings, db: Database, app: Yishi) -> Dispatcher:
    limits = Limits(settings.OUTBOX_GLOBAL_PER_SECOND, settings.OUTBOX_CHAT_PER_SECOND,
                    settings.OUTBOX_GROUP_PER_MINUTE)
    return Dispatcher(db, limits, boot_id=app.boot_id)


async def serve(settings: Settings, *, webhook: str | None = None, stop: asyncio.Event | None = None,
                ready: asyncio.Event | None = None, on_web: Callable[[str], None] | None = None) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM when none is given); ``on_web`` hears the web pages' URL."""
    stop = stop or _stop_on_signals()
    db = Database(settings.DATABASE_URL, keys=resolve_keys(settings.DATABASE_URL, settings.LEDGER_KEY,
                                                           settings.BALLOT_SECRET_KEY))
    app = build_app(settings, db)
    transport: Transport = create_transport(settings, app)
    outbox = build_outbox(settings, db, app)
    scheduler: SchedulerService | None = None
    pages = WebServer(db, app.i18n, settings.tz, settings.WEB_HOST, settings.WEB_PORT, settings.WEB_BASE_URL,
                      changed=lambda kind, subject_id: app.touch_live(kind, subject_id, transport.messenger),
                      leader=lambda: None if scheduler is None else scheduler.leader)
    try:
        await start_web(pages, app, settings, on_web)
        await transport.start()
        outbox.attach(transport.messenger)
        await outbox.start()
        app.outbox = outbox
        await app.refresh_live_messages(transport.messenger)  # edits missed while the bot was down
        await app.register_commands(transport.messenger)
        if settings.SCHEDULER_ENABLED:
            scheduler = await start_scheduler(settings, db, app, outbox)
        log.info("Yishi is running on %s (%s)", settings.TRANSPORT, "webhook" if webhook else "long polling")
        if ready is not None:
            ready.set()
        if webhook:
            await transport.run_webhook(webhook, stop)
        else:
            await transport.run_polling(stop)
    finally:
        if scheduler is not None:
            await scheduler.stop()
        await app.close()
        await pages.stop()
        await outbox.stop()
        await transport.close()
        await db.dispose()


async def start_web(pages: WebServer, app: Yishi, settings: Settings, on_web: Callable[[str], None] | None) -> None:
    """The residents' web pages; /web links to WEB_BASE_URL, or to where they listen when it is unset."""
    try:
        url = await pages.start()
    except OSError as exc:  # the bot still works in the chat; the log says why the pages are missing
        log.error("web pages not served: cannot listen on %s:%s (%s)", settings.WEB_HOST, settings.WEB_PORT, exc)
        return
    app.web_base_url = settings.WEB_BASE_URL or url
    app.web_links = settings.WEB_BASE_URL
    log.info("web pages on %s (links: %s)", url, app.web_base_url)
    if on_web is not None:
        on_web(app.web_base_url)


async def start_scheduler(settings: Settings, db: Database, app: Yishi, outbox: Dispatcher) -> SchedulerService:
    """Deadlines, reminders, nudges, digests and meetings: run here if this process is elected."""
    context = JobContext(db, app.i18n, settings.tz, wake_outbox=outbox.wake)
    service = SchedulerService(settings.DATABASE_URL, settings.tz, context)
    await service.start()
    app.replan = service.replan
    return service


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
