"""A community with rooms at every level and a few registered owners; the job context; time helpers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.deliberation.scope import Scope
from bot.i18n import Translator
from bot.scheduler.context import JobContext, set_context
from bot.services.census import issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.rooms import bind_room
from bot.storage import Database
from bot.storage.models import Community, OutboxMessage
from tests.support.world import World

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
MODERATOR = Actor("telegram", "9", "Moderator")
__all__ = ["MODERATOR", "OWNERS", "ROOMS", "T0", "TZ", "World", "hours", "outbox"]

# chat id -> room scope
ROOMS = {"-1": "all", "-2": "3", "-3": "3-2", "-4": "3-1", "-5": "4"}
OWNERS = {"1": "3-2-101", "2": "3-2-201", "3": "3-1-101"}  # user id -> home


@pytest.fixture
def job_context(db: Database) -> Iterator[JobContext]:
    context = JobContext(db, Translator("en"), TZ)
    set_context(context)
    yield context
    set_context(None)


@pytest.fixture
async def world(db: Database, community: str) -> World:
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community)}
    for user, home in OWNERS.items():
        await redeem_code(db, "telegram", user, codes[home])
    await add_council_member(db, community, MODERATOR.platform, MODERATOR.external_id)
    async with db.uow() as uow:
        row = (await uow.session.execute(select(Community))).scalar_one()
        row.support_fixed = 1
        community_id = row.id
    assert community_id is not None
    for chat_id, scope in ROOMS.items():
        await bind_room(db, "telegram", chat_id, f"room {scope}", community_id, Scope.parse(scope), MODERATOR)
    return World(db, community, community_id, MODERATOR, t0=T0)


async def outbox(db: Database, prefix: str = "") -> list[OutboxMessage]:
    async with db.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()  # type: ignore[arg-type]
    return [row for row in rows if row.dedupe_key.startswith(prefix)]


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
