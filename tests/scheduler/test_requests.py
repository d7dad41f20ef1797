"""The request clock: reminders before each deadline, escalation when one passes, quiet hours, the rating window."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.deliberation.requests import RequestAction
from bot.scheduler.context import JobContext
from bot.scheduler.requests import plan_requests, request_clock
from bot.services import requests as service
from bot.services.directory import Actor
from bot.storage.models import ResidentRequest
from tests.scheduler.conftest import T0, World, outbox

SH = ZoneInfo("Asia/Shanghai")
AUTHOR = Actor("telegram", "1", "Owner 1")
HANDLER, BOSS, STREET = "71", "72", "73"


async def _setup(world: World) -> None:
    await service.configure(world.db, world.community, parties=[("PropertyCo", "property"), ("Street", "street")],
                            routes=[("repair", "PropertyCo")], street="Street")
    await service.add_handler(world.db, world.community, "telegram", HANDLER, "PropertyCo")
    await service.add_handler(world.db, world.community, "telegram", BOSS, "PropertyCo", supervisor=True)
    await service.add_handler(world.db, world.community, "telegram", STREET, "Street")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SH)


async def _plan(world: World) -> dict[str, datetime]:
    return {job.id: job.run_at for job in await plan_requests(world.db, T0) if job.run_at is not None}


async def _to(world: World, who: str) -> list[str]:
    return [m.payload["text"] for m in await outbox(world.db, "request:") if m.chat_id == who]


async def test_a_request_left_alone_is_reminded_and_escalated(world: World, job_context: JobContext) -> None:
    await _setup(world)
    # Monday 10:00: 24 h to respond, 7 days to solve.
    await service.report(world.db, AUTHOR, "repair", "3-2", "Lamp broken", now=local(2, 10))
    # The reminder would be due 6 h before the response deadline, Tuesday 04:00: in quiet hours, so at 08:00.
    assert await _plan(world) == {"request:1": local(3, 8)}
    assert await request_clock(1, now=local(3, 4)) == 0  # a run in quiet hours sends nothing
    assert await request_clock(1, now=local(3, 8)) == 1
    reminder = await _to(world, HANDLER)
    assert len(reminder) == 1 and "Reminder: work order R1" in reminder[0] and "2026-03-03 10:00" in reminder[0]
    assert await _plan(world) == {"request:1": local(3, 10)}
    # Tuesday 10:00 the deadline passes: the supervisor hears of it.
    assert await request_clock(1, now=local(3, 10)) == 1
    assert "Overdue: work order R1 missed its first response deadline" in (await _to(world, BOSS))[0]
    assert await request_clock(1, now=local(3, 10, 5)) == 0  # done once
    # Wednesday 10:00, a second window later: the street level.
    assert await _plan(world) == {"request:1": local(4, 10)}
    assert await request_clock(1, now=local(4, 10)) == 1
    assert "Escalated to the street level" in (await _to(world, STREET))[0]
    # Then the resolution deadline's ladder: reminded a day before (Sunday 10:00), due Monday 10:00.
    assert await _plan(world) == {"request:1": local(8, 10)}
    await service.handle(world.db, Actor("telegram", HANDLER), 1, RequestAction.TAKE, now=local(8, 9))
    assert await request_clock(1, now=local(8, 10)) == 1
    assert "due for its resolution by 2026-03-09 10:00" in (await _to(world, HANDLER))[-1]
    events = await _ledger_events(world)
    assert events == ["request_reported", "request_remind", "request_escalate_supervisor",
                      "request_escalate_street", "request_take", "request_remind"]


async def _ledger_events(world: World) -> list[str]:
    from sqlalchemy import select

    from bot.storage.models import LedgerEntry

    async with world.db.uow(readonly=True) as uow:
        return list((await uow.session.execute(select(LedgerEntry.event).where(
            LedgerEntry.subject == "request:1").order_by(LedgerEntry.seq))).scalars())


async def test_an_urgent_request_is_not_held_by_quiet_hours(world: World, job_context: JobContext) -> None:
    await _setup(world)
    await service.report(world.db, AUTHOR, "repair", "3-2-101", "Water pours from the ceiling", urgent=True,
                         now=local(2, 23))
    # 2 h to respond: reminded 30 min before, at 00:30, in the middle of the night.
    assert await _plan(world) == {"request:1": local(3, 0, 30)}
    assert await request_clock(1, now=local(3, 0, 30)) == 1
    assert await request_clock(1, now=local(3, 1)) == 1
    assert len(await _to(world, BOSS)) == 1


async def test_a_late_run_catches_up_with_one_message_per_deadline(world: World, job_context: JobContext) -> None:
    await _setup(world)
    await service.report(world.db, AUTHOR, "repair", "3-2", "Lamp broken", now=local(2, 10))
    # The bot was down until Thursday noon: only the street level is told, once.
    assert await request_clock(1, now=local(5, 12)) == 1
    assert await _to(world, HANDLER) == [] and await _to(world, BOSS) == []
    assert len(await _to(world, STREET)) == 1


async def test_no_rating_in_three_days_is_not_rated(world: World, job_context: JobContext) -> None:
    await _setup(world)
    await service.report(world.db, AUTHOR, "repair", "3-2", "Lamp broken", now=local(2, 10))
    await service.handle(world.db, Actor("telegram", HANDLER), 1, RequestAction.RESOLVE, "Replaced",
                         now=local(2, 15))
    assert await _plan(world) == {"request:1": local(5, 15)}
    await request_clock(1, now=local(5, 14, 59))
    async with world.db.uow(readonly=True) as uow:
        row = await uow.session.get(ResidentRequest, 1)
        assert row is not None and row.state == "resolved"
    await request_clock(1, now=local(5, 15))
    async with world.db.uow(readonly=True) as uow:
        row = await uow.session.get(ResidentRequest, 1)
        assert row is not None and (row.state, row.rating) == ("closed", "not_rated")
    assert await _plan(world) == {}  # a closed request has no clock
    assert await _ledger_events(world) == ["request_reported", "request_resolve", "request_not_rated"]


async def test_the_council_hears_last_months_rates_once(world: World, job_context: JobContext) -> None:
    from bot.deliberation.requests import Rating
    from bot.scheduler.requests import monthly_rates, previous_month

    await _setup(world)
    fixer = Actor("telegram", HANDLER)
    await service.report(world.db, AUTHOR, "repair", "3-2", "Lamp broken", now=local(2, 10))
    await service.report(world.db, AUTHOR, "repair", "3-2", "Door broken", now=local(2, 11))
    await service.handle(world.db, fixer, 1, RequestAction.RESOLVE, "Replaced", now=local(2, 12))
    await service.rate(world.db, AUTHOR, 1, Rating.SATISFIED, now=local(2, 13))
    first_of_april = datetime(2026, 4, 1, 9, 0, tzinfo=SH)
    assert previous_month(first_of_april, SH) == "2026-03"
    assert previous_month(datetime(2026, 1, 1, 9, 0, tzinfo=SH), SH) == "2025-12"
    assert await monthly_rates(now=first_of_april) == 1  # one council member
    text = (await outbox(world.db, "request-rates:"))[0].payload["text"]
    assert "Residents' requests in 2026-03:" in text
    assert ("all requests: 2 received, response 50.00% (1/2), resolution 50.00% (1/2), satisfaction 100.00% (1/1) "
            "(0 not rated)") in text
    assert "PropertyCo: 2 received" in text
    assert await monthly_rates(now=first_of_april) == 0
    assert await monthly_rates(now=datetime(2026, 3, 1, 9, 0, tzinfo=SH)) == 0  # February had none
