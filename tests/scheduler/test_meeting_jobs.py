"""The meeting planner and its jobs: the agenda the day before, late notices, nothing twice."""
# ruff: noqa: F811 - the services fixtures are imported for use here

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from bot.i18n import Translator
from bot.scheduler import meetings as jobs
from bot.scheduler.context import JobContext, set_context
from bot.scheduler.jobs import planners
from bot.services import agenda, meetings
from bot.storage import Database
from bot.storage.models import ChatRoom, Meeting, OutboxMessage
from tests.services.conftest import MODERATOR, T0, link, make_community  # noqa: F401 - fixtures
from tests.services.test_meetings import DEC5, NOTICES, SHANGHAI, UNIT


@pytest.fixture
def woken(db: Database) -> Iterator[list[int]]:
    calls: list[int] = []
    set_context(JobContext(db, Translator("en"), SHANGHAI, wake_outbox=lambda: calls.append(1)))
    yield calls
    set_context(None)


def test_the_planner_is_registered() -> None:
    assert jobs.plan_meetings in planners()


async def test_plan_agenda_the_day_before_and_cancel_removes_it(db: Database, make_community) -> None:
    cid = await make_community(UNIT, support_fixed=1)
    assert await jobs.plan_meetings(db, T0) == []
    done = await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    plan = await jobs.plan_meetings(db, T0)
    assert [(j.id, j.func, j.args, j.run_at) for j in plan] == [
        (f"meeting-agenda:{done.meeting.id}", "bot.scheduler.meetings:post_agenda", (done.meeting.id,),
         DEC5 - timedelta(hours=24))
    ]
    assert plan[0].misfire_grace_time == 24 * 3600  # a late start still posts until the meeting begins
    assert await jobs.plan_meetings(db, T0 + timedelta(days=3)) == plan  # stable: replanning never churns
    await meetings.cancel(db, cid, MODERATOR, NOTICES, now=T0)
    assert await jobs.plan_meetings(db, T0) == []


async def test_a_moved_meeting_moves_its_job(db: Database, make_community) -> None:
    cid = await make_community(UNIT, support_fixed=1)
    await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    later = DEC5 + timedelta(days=2)
    await meetings.schedule(db, cid, MODERATOR, later, NOTICES, now=T0)
    [job] = await jobs.plan_meetings(db, T0)
    assert job.run_at == later - timedelta(hours=24)


async def test_no_job_when_posted_at_once_or_after_the_meeting(db: Database, make_community) -> None:
    cid = await make_community(UNIT, support_fixed=1)
    soon = T0 + timedelta(hours=3)
    done = await meetings.schedule(db, cid, MODERATOR, soon, NOTICES, now=T0)
    assert done.agenda_posted and await jobs.plan_meetings(db, T0) == []
    assert await jobs.plan_meetings(db, soon + timedelta(minutes=1)) == []


async def test_the_agenda_job_posts_in_every_room_once_even_run_twice(
    db: Database, make_community, link, woken: list[int]
) -> None:
    cid = await make_community(UNIT, support_fixed=1)
    async with db.uow() as uow:
        for chat_id, scope in (("-10", "all"), ("-11", "1"), ("-12", "1-1")):
            uow.session.add(ChatRoom(platform="telegram", chat_id=chat_id, community_id=cid, scope=scope))
    author = await link(cid, "1-1-101", 1)
    p = (await agenda.propose(db, cid, author, "Fix the roof", scope="1-1", now=T0)).proposal
    await agenda.accept(db, p.id, MODERATOR, now=T0)
    done = await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    with time_machine.travel(DEC5 - timedelta(hours=24), tick=False):
        await jobs.post_agenda(done.meeting.id)
        await jobs.post_agenda(done.meeting.id)
    assert woken == [1]
    async with db.uow(readonly=True) as uow:
        posts = (await uow.session.execute(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("meeting-agenda:")))).scalars().all()
        meeting = await uow.session.get(Meeting, done.meeting.id)
    assert sorted(m.chat_id for m in posts) == ["-10", "-11", "-12"]
    assert all(f"#{p.id} Fix the roof" in m.payload["text"] for m in posts)
    assert meeting.agenda_posted_at == DEC5 - timedelta(hours=24)
    assert await jobs.plan_meetings(db, DEC5 - timedelta(hours=23)) == []


async def test_late_placements_are_planned_and_told_by_the_notices_job(
    db: Database, make_community, link, woken: list[int]
) -> None:
    cid = await make_community(UNIT, support_fixed=1)
    done = await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    author = await link(cid, "1-1-101", 1)
    p = (await agenda.propose(db, cid, author, "Fix the roof", scope="1-1", now=T0)).proposal
    accepted_at = T0 + timedelta(hours=1)
    await agenda.accept(db, p.id, MODERATOR, now=accepted_at)  # no notices: the job tells
    plan = {j.id: j for j in await jobs.plan_meetings(db, accepted_at)}
    job = plan[f"meeting-notices:{done.meeting.id}"]
    assert job.run_at == accepted_at and job.func == "bot.scheduler.meetings:notify_proposers"
    with time_machine.travel(accepted_at + timedelta(seconds=1), tick=False):
        await jobs.notify_proposers(done.meeting.id)
        await jobs.notify_proposers(done.meeting.id)
    assert woken == [1]
    async with db.uow(readonly=True) as uow:
        told = (await uow.session.execute(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("meeting-item:")))).scalars().all()
    assert [m.chat_id for m in told] == ["1"]
    assert f"meeting-notices:{done.meeting.id}" not in {j.id for j in await jobs.plan_meetings(db, accepted_at)}
