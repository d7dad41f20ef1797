"""A real `yishi run` killed mid-burst (SIGKILL): the next start resends only what was in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bot.chat.port import OutMessage
from bot.fakeapi import FakeTelegram
from bot.fakeapi.server import FloodLimits
from bot.outbox import Priority, enqueue
from bot.storage import Database
from bot.storage.migrate import upgrade
from bot.storage.models import OutboxMessage

TOKEN = "777:crash-token"
USERS = list(range(9_001, 9_121))  # 120 messages at 30 a second: about 4 s of sending


async def _start(tmp_path: Path, url: str, base_url: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k not in {"TIMEZONE", "DEFAULT_LOCALE"}}
    env.update(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=base_url, TRANSPORT="aiogram", DATABASE_URL=url,
               SCHEDULER_ENABLED="false")
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def _statuses(db: Database) -> Counter[str]:
    async with db.uow(readonly=True) as uow:
        rows = await uow.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return Counter({status: count for status, count in rows.all()})


async def test_killed_mid_burst_then_restarted(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'yishi.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        for user in USERS:
            fake.add_user(user, f"User {user}")
            fake.add_private_chat(user)
        fake.enable_flood_limits(FloodLimits())
        async with db.uow() as uow:
            for user in USERS:
                await enqueue(uow, platform="telegram", chat_id=str(user), message=OutMessage(f"digest {user}"),
                              dedupe_key=f"digest:{user}", chat_kind="private", priority=Priority.BULK)

        def delivered() -> Counter[int]:
            return Counter(user for user in USERS for m in fake.messages(user) if m.from_bot)

        first = await _start(tmp_path, url, fake.api_base)
        try:
            await fake.wait_for(lambda: len(delivered()) >= 40, timeout=60)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        at_kill = await _statuses(db)
        assert 0 < at_kill["sent"] < len(USERS)

        second = await _start(tmp_path, url, fake.api_base)
        try:
            await fake.wait_for(lambda: len(delivered()) == len(USERS), timeout=60)
            for _ in range(100):
                if (await _statuses(db)) == Counter({"sent": len(USERS)}):
                    break
                await asyncio.sleep(0.1)
        finally:
            second.send_signal(signal.SIGINT)
            await asyncio.wait_for(second.wait(), 30)
        assert await _statuses(db) == Counter({"sent": len(USERS)})
        counts = delivered()
        assert set(counts) == set(USERS)  # at least once
        doubled = sum(1 for count in counts.values() if count > 1)
        # What was marked sent before the kill never went again; at most the in-flight ones did.
        assert doubled <= at_kill["sending"], (doubled, at_kill)
        assert fake.stats.too_many_requests == 0
        assert sum(counts.values()) == len(USERS) + doubled
    await db.dispose()
