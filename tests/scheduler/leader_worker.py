"""A bot process's scheduler alone, for the two-process test: ``python leader_worker.py DATABASE_URL``."""

from __future__ import annotations

import asyncio
import logging
import sys
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from bot.scheduler.context import JobContext
from bot.scheduler.service import SchedulerService
from bot.storage import Database


async def main(url: str) -> None:
    db = Database(url)
    tz = ZoneInfo("Asia/Shanghai")
    service = SchedulerService(url, tz, JobContext(db, Translator("en"), tz), reconcile_interval=0.5, replan_delay=0)
    await service.start()
    try:
        await asyncio.Event().wait()  # until killed
    finally:
        await service.stop()
        await db.dispose()


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s", force=True)
    asyncio.run(main(sys.argv[1]))
