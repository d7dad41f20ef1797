"""A whole Yishi, on a real runtime, talking HTTP to the in-repo fake Bot API server (tests.support.world.World)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.config import load_settings
from bot.fakeapi import FakeTelegram
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.limits import Limits
from bot.services.census import issue_codes
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.storage import Database
from bot.storage.models import Community
from bot.transports import create_transport
from tests.support.world import World

__all__ = ["GROUP", "MODERATOR", "OTHER_GROUP", "OUTSIDER", "OWNERS", "TENANT", "TOKEN", "World", "world"]

TOKEN = "123456:e2e-token"
GROUP = -1003200  # the room of building unit 3-2
OTHER_GROUP = -1003100  # a room nobody bound
MODERATOR = 9000
TENANT = 5000
OUTSIDER = 6000  # owner of 3-1-101
OWNERS = {room: 3200 + i for i, room in enumerate(
    ["101", "102", "201", "202", "301", "302", "401", "402", "501", "502", "601", "602"], start=1)}


@pytest.fixture(params=["aiogram", "ptb"])
async def world(request: pytest.FixtureRequest, db: Database, community: str) -> AsyncIterator[World]:
    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        fake.add_user(MODERATOR, "Moderator Li", language_code="en")
        fake.add_user(TENANT, "Tenant Zhao", language_code="en")
        fake.add_user(OUTSIDER, "Owner Qian", language_code="en")
        for room, user in OWNERS.items():
            fake.add_user(user, f"Owner {room}", language_code="zh-hans" if room == "602" else "en")
        everyone = [MODERATOR, TENANT, OUTSIDER, *OWNERS.values()]
        for user in everyone:
            fake.add_private_chat(user)
        fake.add_group(GROUP, "3-2 elevator room", members=everyone, admins=[MODERATOR])
        fake.add_group(OTHER_GROUP, "Unbound room", members=everyone, admins=[TENANT])
        await add_council_member(db, community, "telegram", str(MODERATOR))
        codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community)}
        async with db.uow(readonly=True) as uow:
            community_id = (await uow.session.execute(select(Community.id))).scalar_one()  # the only one
        settings = load_settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.api_base, TRANSPORT=request.param,
                                 DATABASE_URL=db.url)
        app = Yishi(db, Translator("zh_CN"), settings.tz, ballot_edit_interval=0.3)
        transport = create_transport(settings, app)
        await transport.start()
        # Every reply goes through the outbox, as in production; per-chat limits are off here so the
        # story does not wait out Telegram's 20 messages a minute per group (tests/outbox covers those).
        # A test marked ``@pytest.mark.outbox_limits(chat_per_second=1, ...)`` runs under those limits.
        marker = request.node.get_closest_marker("outbox_limits")
        limits = Limits(**{"global_per_second": 30, "chat_per_second": 0, "group_per_minute": 0,
                           **(marker.kwargs if marker else {})})
        outbox = Dispatcher(db, limits, boot_id=app.boot_id)
        outbox.attach(transport.messenger)
        await outbox.start()
        app.outbox = outbox
        await app.register_commands(transport.messenger)
        stop = asyncio.Event()
        polling = asyncio.create_task(transport.run_polling(stop))
        try:
            yield World(db, community, community_id, Actor("telegram", str(MODERATOR)), fake_api=fake, yishi=app,
                        codes=codes, messenger=transport.messenger)
        finally:
            stop.set()
            try:
                await asyncio.wait_for(polling, 60)  # a loaded machine (xdist workers) is slow to drain
            finally:
                try:
                    await app.close()
                    await outbox.stop()
                finally:
                    await transport.close()
