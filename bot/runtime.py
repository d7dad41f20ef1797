"""Running the bot: database, translations, handlers and one transport, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.config import Settings
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.scheduler.context import JobContext
from bot.scheduler.service import SchedulerService
from bot.storage import Database
from bot.transports import Transport, create_transport

log = logging.getLogger(__name__)


def build_app(settings: Settings, db: Database) -> Yishi:
    return Yishi(db, Translator(settings.DEFAULT_LOCALE), settings.tz)


async def serve(settings: Settings, *, webhook: str | None = None, stop: asyncio.Event | None = None,
                ready: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM when none is given)."""
    stop = stop or _stop_on_signals()
    db = Database(settings.DATABASE_URL)
    app = build_app(settings, db)
    transport: Transport = create_transport(settings, app)
    scheduler = None
    try:
        await transport.start()
        await app.register_commands(transport.messenger)
        if settings.SCHEDULER_ENABLED:
            scheduler = await start_scheduler(settings, db, app)
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
        await transport.close()
        await db.dispose()


async def start_scheduler(settings: Settings, db: Database, app: Yishi) -> SchedulerService:
    """Deadlines, reminders, nudges (and digests, meetings): run here if this process is elected."""
    service = SchedulerService(settings.DATABASE_URL, settings.tz, JobContext(db, app.i18n, settings.tz))
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
