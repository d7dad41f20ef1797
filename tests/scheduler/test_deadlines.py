"""Deadline and reminder jobs, called with the clock moved (time_machine), as APScheduler would call them."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from bot.deliberation.scope import Scope
from bot.scheduler import deadlines
from bot.scheduler.context import JobContext
from bot.services import agenda, voting
from bot.services.broadcast import rooms_for_scope
from bot.services.directory import Actor
from bot.storage.models import BallotPost, Proposal, Vote, utcnow
from tests.scheduler.conftest import MODERATOR, T0, World, hours, outbox


def test_scopes_overlap_when_one_contains_the_other() -> None:
    unit, building, everyone = Scope.parse("3-2"), Scope.parse("3"), Scope.parse("all")
    assert unit.overlaps(building) and building.overlaps(unit) and everyone.overlaps(unit)
    assert not unit.overlaps(Scope.parse("3-1")) and not building.overlaps(Scope.parse("4"))
    assert not unit.overlaps(Scope.parse("4-2"))


async def test_rooms_of_a_scope(world: World) -> None:
    async with world.db.uow(readonly=True) as uow:
        unit = {r.chat_id for r in await rooms_for_scope(uow, world.community_id, "3-2")}
        building = {r.chat_id for r in await rooms_for_scope(uow, world.community_id, "3")}
    assert unit == {"-1", "-2", "-3"}
    assert building == {"-1", "-2", "-3", "-4"}


async def test_a_vote_closes_at_its_deadline_and_posts_in_every_room_of_its_scope(
    world: World, job_context: JobContext
) -> None:
    vote = await world.vote("3-2")
    assert vote.id is not None
    async with world.db.uow() as uow:
        uow.session.add(BallotPost(vote_id=vote.id, platform="telegram", chat_id="-3", message_id="77", locale="en"))
    with time_machine.travel(vote.closes_at - timedelta(seconds=1), tick=False):
        assert not await deadlines.close_due_vote(vote.id)  # not yet
    with time_machine.travel(vote.closes_at + timedelta(seconds=5), tick=False):
        assert await deadlines.close_due_vote(vote.id)
        assert not await deadlines.close_due_vote(vote.id)  # a second run (restart, other process) adds nothing
        await deadlines.sweep()
    async with world.db.uow(readonly=True) as uow:
        closed = await uow.session.get(Vote, vote.id)
        assert closed is not None and closed.status == "closed" and closed.result is not None
        assert await uow.ledger.count("vote_closed") == 1
    results = await outbox(world.db, f"vote-result:{vote.id}:")
    assert sorted(r.chat_id for r in results) == ["-1", "-2", "-3"]
    assert all("Result of #" in r.payload["text"] and "NOT PASSED" in r.payload["text"] for r in results)
    edits = await outbox(world.db, f"vote-closed-edit:{vote.id}:")
    assert len(edits) == 1 and edits[0].payload["edit"] == "77" and edits[0].payload["actions"] == []
    assert "This vote is closed." in edits[0].payload["text"]


async def test_reminders_24h_and_2h_before_with_turnout_once_each(world: World, job_context: JobContext) -> None:
    vote = await world.vote("3-2")
    assert vote.id is not None
    await voting.cast_ballot(world.db, vote.id, Actor("telegram", "1"), "yes", now=T0 + hours(1))
    with time_machine.travel(vote.closes_at - hours(25), tick=False):
        assert not await deadlines.remind(vote.id)
    with time_machine.travel(vote.closes_at - hours(23), tick=False):
        assert await deadlines.remind(vote.id)
        assert not await deadlines.remind(vote.id)
    first = await outbox(world.db, f"vote-remind:{vote.id}:1:")
    assert sorted(r.chat_id for r in first) == ["-1", "-2", "-3"]
    assert "Turnout: 1/12 heads" in first[0].payload["text"] and first[0].payload["actions"]  # the ballot buttons
    with time_machine.travel(vote.closes_at - hours(1), tick=False):
        assert await deadlines.remind(vote.id)
        await deadlines.sweep()
    assert len(await outbox(world.db, f"vote-remind:{vote.id}:2:")) == 3
    with time_machine.travel(vote.closes_at + hours(1), tick=False):
        assert not await deadlines.remind(vote.id)
        await deadlines.sweep()
    assert len(await outbox(world.db, "vote-remind:")) == 6


async def test_after_downtime_only_the_latest_reminder_goes(world: World, job_context: JobContext) -> None:
    vote = await world.vote("3-2")
    assert vote.id is not None
    with time_machine.travel(vote.closes_at - hours(1), tick=False):
        assert deadlines.next_reminder(vote, utcnow()) == utcnow()  # overdue: run now
        await deadlines.sweep()
        await deadlines.sweep()
    assert {r.dedupe_key.split(":")[2] for r in await outbox(world.db, "vote-remind:")} == {"2"}
    assert len(await outbox(world.db, "vote-remind:")) == 3
    async with world.db.uow(readonly=True) as uow:
        assert (await uow.session.get(Vote, vote.id)).reminder_stage == 2  # type: ignore[union-attr]


async def test_a_short_vote_gets_no_reminder_at_its_opening(world: World, job_context: JobContext) -> None:
    author = Actor("telegram", "1")
    proposal = (await agenda.propose(world.db, world.community_id, author, "Quick", scope="3-2", force=True,
                                     now=T0)).proposal
    assert proposal is not None and proposal.id is not None
    await agenda.accept(world.db, proposal.id, MODERATOR, now=T0)
    vote = await voting.open_vote(world.db, proposal.id, MODERATOR, "residents_meeting", 1, now=T0)
    assert deadlines.due_stage(vote, T0) == 0
    assert deadlines.next_reminder(vote, T0) == vote.closes_at - hours(2)


async def test_a_collecting_window_expires_with_a_notice(world: World, job_context: JobContext) -> None:
    submitted = await agenda.propose(world.db, world.community_id, Actor("telegram", "3"), "Bike shed", scope="3-1",
                                     force=True, now=T0)
    proposal = submitted.proposal
    assert proposal is not None and proposal.id is not None
    async with world.db.uow() as uow:
        row = await uow.session.get(Proposal, proposal.id)
        assert row is not None
        row.state, row.support_threshold = "collecting", 5  # as if the threshold were not reached
    with time_machine.travel(proposal.collecting_until - timedelta(minutes=1), tick=False):
        assert await deadlines.expire_proposals() == []
    with time_machine.travel(proposal.collecting_until + timedelta(minutes=1), tick=False):
        assert await deadlines.expire_proposals() == [proposal.id]
        assert await deadlines.expire_proposals() == []
    notices = await outbox(world.db, f"proposal-expired:{proposal.id}:")
    assert sorted(n.chat_id for n in notices) == ["-1", "-2", "-4"]
    assert "did not gather enough co-signatures" in notices[0].payload["text"]


async def test_an_objection_period_ends_and_settles_with_a_notice(world: World, job_context: JobContext) -> None:
    author = Actor("telegram", "1")
    proposal = (await agenda.propose(world.db, world.community_id, author, "Elevator for 3-2", scope="3-2",
                                     category="elevator", force=True, now=T0)).proposal
    assert proposal is not None and proposal.id is not None
    async with world.db.uow() as uow:
        row = await uow.session.get(Proposal, proposal.id)
        assert row is not None
        row.state, row.objection_until = "objection", T0 + timedelta(days=15)
    with time_machine.travel(T0 + timedelta(days=14), tick=False):
        assert await deadlines.settle_objections() == []
    with time_machine.travel(T0 + timedelta(days=15, minutes=1), tick=False):
        assert await deadlines.settle_objections() == [proposal.id]
        await deadlines.sweep()
    notices = await outbox(world.db, f"objections-settled:{proposal.id}:")
    assert sorted(n.chat_id for n in notices) == ["-1", "-2", "-3"]
    assert "the plan is adopted" in notices[0].payload["text"]
    async with world.db.uow(readonly=True) as uow:
        state = (await uow.session.execute(select(Proposal.state).where(Proposal.id == proposal.id))).scalar_one()
        assert state != "objection"
        assert await uow.ledger.count("objection_period_ended") == 1
