"""The month's request rates in the council's digest: the first private digest of a month of a council member
carries last month's response, resolution and satisfaction rates (percentages with their exact counts);
the 1st-of-month message then goes only to council members without a private digest. Time moved by
time_machine."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from bot.deliberation.requests import Rating, RequestAction
from bot.scheduler.context import JobContext
from bot.scheduler.digests import send_digest
from bot.scheduler.requests import monthly_rates
from bot.services import requests as service
from bot.services.council import add_council_member
from bot.services.digests import Schedule, set_member_digest
from bot.services.directory import Actor
from tests.scheduler.conftest import MODERATOR, World, outbox
from tests.scheduler.test_requests import _setup

SH = ZoneInfo("Asia/Shanghai")
COUNCILLOR = Actor("telegram", "1", "Owner 1")  # lives in 3-2-101 and sits on the council
NEIGHBOUR = Actor("telegram", "2", "Owner 2")  # lives in 3-2-201, not on the council
ALL_LINE = ("all requests: 3 received, response 66.67% (2/3), resolution 33.33% (1/3), satisfaction 100.00% "
            "(2/2) (0 not rated)")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


async def _texts(world: World, chat: str, prefix: str) -> list[str]:
    return [m.payload["text"] for m in await outbox(world.db, prefix) if m.chat_id == chat]


async def test_first_digest_of_the_month_carries_last_months_rates(world: World, job_context: JobContext) -> None:
    await _setup(world)
    await add_council_member(world.db, world.community, "telegram", COUNCILLOR.external_id)
    fixer = Actor("telegram", "71")
    with time_machine.travel(at(3, 2, 10), tick=False) as clock:
        # March: three requests. R1 solved in time and rated 满意; R2 taken in time, solved late, rated 基本满意;
        # R3 left alone. Response 2/3, resolution 1/3, satisfaction (1 + 1)/2.
        for text in ("Lamp broken", "Door broken", "Gate broken"):
            await service.report(world.db, NEIGHBOUR, "repair", "3-2", text)
        clock.move_to(at(3, 2, 12))
        await service.handle(world.db, fixer, 1, RequestAction.RESOLVE, "Replaced")
        await service.handle(world.db, fixer, 2, RequestAction.TAKE)
        await service.rate(world.db, NEIGHBOUR, 1, Rating.SATISFIED)
        clock.move_to(at(3, 20, 12))  # R2's 7 days are over
        await service.handle(world.db, fixer, 2, RequestAction.RESOLVE, "Replaced late")
        await service.rate(world.db, NEIGHBOUR, 2, Rating.BASIC)
        mine = (await set_member_digest(world.db, COUNCILLOR, Schedule("daily", "20:00")))[0]
        theirs = (await set_member_digest(world.db, NEIGHBOUR, Schedule("daily", "20:00")))[0]
        assert mine.subscription.id is not None and theirs.subscription.id is not None
        ledger_rows = len(await outbox(world.db))

        # The 1st at 09:00: the council member with a private digest is left out of the separate message.
        clock.move_to(at(4, 1, 9))
        assert await monthly_rates() == 1
        assert [m.chat_id for m in await outbox(world.db, "request-rates:")] == [MODERATOR.external_id]
        separate = (await _texts(world, MODERATOR.external_id, "request-rates:"))[0]
        assert ALL_LINE in separate

        # The 1st at 20:00: the councillor's digest carries March's rates; the neighbour's does not.
        clock.move_to(at(4, 1, 20))
        assert await send_digest(mine.subscription.id) >= 1
        digest = "\n".join(await _texts(world, COUNCILLOR.external_id, "digest:"))
        assert "Residents' requests in 2026-03:" in digest and ALL_LINE in digest
        assert "PropertyCo: 3 received" in digest and "Repairs: 3 received" in digest
        await send_digest(theirs.subscription.id)
        assert not any("Residents' requests" in t for t in await _texts(world, NEIGHBOUR.external_id, "digest:"))

        # The 2nd: not the month's first digest, so no rates again (and nothing else changed: no digest).
        before = len(await outbox(world.db))
        clock.move_to(at(4, 2, 20))
        assert await send_digest(mine.subscription.id) == 0
        assert len(await outbox(world.db)) == before
        assert before > ledger_rows

        # May: April had no requests, so May's first digest has no rates section and the 1st sends nothing.
        clock.move_to(at(5, 1, 9))
        assert await monthly_rates() == 0
        clock.move_to(at(5, 1, 20))
        assert await send_digest(mine.subscription.id) == 0
