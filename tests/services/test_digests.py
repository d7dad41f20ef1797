"""Digest subscriptions and what a digest contains, read from the ledger and the current state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.deliberation.errors import IllegalTransition, InvalidInput, NotEligible
from bot.deliberation.scope import Scope
from bot.services import agenda, digests, elevator, voting
from bot.services.digests import Changes, Schedule
from bot.services.implementation import record_progress
from bot.services.rooms import bind_room
from bot.storage import Database
from bot.storage.models import Community, DigestSubscription
from tests.services.conftest import MODERATOR, T0, census

HOMES = census(
    *[("1-1", f"{f}01", f, "80.00", f"A{f}", "person") for f in range(1, 7)],
    *[("2-1", f"{f}01", f, "70.00", f"B{f}", "person") for f in range(1, 3)],
)
DAILY = Schedule("daily", "20:00")


async def _threshold(db: Database, cid: int, fixed: int) -> None:
    async with db.uow() as uow:
        community = await uow.session.get(Community, cid)
        assert community is not None
        community.support_fixed = fixed


async def _room(db: Database, cid: int, scope: str = "1-1", chat: str = "-100") -> int:
    return (await bind_room(db, "telegram", chat, "", cid, Scope.parse(scope), MODERATOR)).room_id


async def _digest(db: Database, subscription_id: int, now) -> Changes:
    async with db.uow(readonly=True) as uow:
        subscription = await uow.session.get(DigestSubscription, subscription_id)
        assert subscription is not None
        return await digests.build_digest(uow, subscription, now)


def _ids(items) -> list[int]:
    return [item.proposal.id for item in items]


@pytest.mark.parametrize(("text", "expected"), [("20:00", "20:00"), ("9:05", "09:05"), ("00:00", "00:00"),
                                                ("23:59", "23:59"), ("7\uff1a30", "07:30")])
def test_times_are_normalised(text: str, expected: str) -> None:
    assert digests.parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "12:60", "1200", "noon", "", "-1:00", "12:5"])
def test_bad_times_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        digests.parse_time(text)


def test_a_schedule_is_consistent() -> None:
    with pytest.raises(InvalidInput):
        Schedule("weekly", "09:00")  # no weekday
    with pytest.raises(InvalidInput):
        Schedule("daily", "09:00", 2)
    with pytest.raises(InvalidInput):
        Schedule("hourly", "09:00")
    assert Schedule("weekly", "09:00", 0).hour == 9


async def test_only_moderators_set_a_rooms_digest(db: Database, make_community, link) -> None:
    cid = await make_community(HOMES, support_fixed=1)
    room = await _room(db, cid)
    neighbour = await link(cid, "1-1-101", 1)
    with pytest.raises(NotEligible):
        await digests.set_room_digest(db, room, neighbour, DAILY, now=T0)
    with pytest.raises(NotEligible):
        await digests.clear_room_digest(db, room, neighbour, now=T0)
    first = await digests.set_room_digest(db, room, MODERATOR, DAILY, now=T0)
    async with db.uow() as uow:
        head = (await uow.ledger.head())["seq"]
    # The cursor starts at the head: the first digest tells what happened after it was set.
    assert first.last_seq == head - 1 and first.at_time == "20:00"
    changed = await digests.set_room_digest(db, room, MODERATOR, Schedule("weekly", "09:00", 0), now=T0)
    assert (changed.id, changed.cadence, changed.weekday, changed.last_seq) == (first.id, "weekly", 0, first.last_seq)
    assert (await digests.room_digest(db, room)).weekday == 0
    assert await digests.clear_room_digest(db, room, MODERATOR, now=T0) is True
    assert await digests.clear_room_digest(db, room, MODERATOR, now=T0) is False
    assert await digests.room_digest(db, room) is None
    async with db.uow() as uow:
        assert await uow.ledger.count("digest_set", f"room:{room}") == 2
        assert await uow.ledger.count("digest_cleared", f"room:{room}") == 1


async def test_a_member_gets_one_private_digest_per_community(db: Database, make_community, link) -> None:
    first = await make_community(HOMES, name="T")
    second = await make_community(HOMES, name="U")
    member = await link(first, "1-1-101", 1)
    await link(second, "2-1-101", 1)
    await link(first, "1-1-201", 1)  # two homes in one community: still one digest there
    subscribed = await digests.set_member_digest(db, member, DAILY, now=T0)
    assert [d.community for d in subscribed] == ["T", "U"]
    again = await digests.set_member_digest(db, member, Schedule("weekly", "08:30", 6), now=T0)
    assert [d.subscription.id for d in again] == [d.subscription.id for d in subscribed]
    assert {(d.subscription.cadence, d.subscription.weekday) for d in await digests.member_digests(db, member)} == {
        ("weekly", 6)}
    with pytest.raises(NotEligible) as refused:
        await digests.set_member_digest(db, MODERATOR, DAILY, now=T0)  # no home anywhere
    assert refused.value.params["reason"] == "not_registered"
    assert await digests.clear_member_digest(db, member, now=T0) == 2
    assert await digests.clear_member_digest(db, member, now=T0) == 0
    async with db.uow() as uow:
        assert await uow.ledger.count("digest_set") == 4 and await uow.ledger.count("digest_cleared") == 1


async def test_a_digest_covers_every_kind_of_change_in_its_scope(db: Database, make_community, link) -> None:
    cid = await make_community(HOMES, support_fixed=1)
    owners = [await link(cid, f"1-1-{f}01", f) for f in range(1, 7)]
    outsider = await link(cid, "2-1-101", 21)
    # Before the digest is set: matters at various stages.
    await _threshold(db, cid, 5)
    paint = (await agenda.propose(db, cid, owners[0], "Paint the stairwell", scope="1-1", now=T0)).proposal
    await agenda.support(db, paint.id, owners[1], now=T0)
    await agenda.support(db, paint.id, owners[2], now=T0)
    bins = (await agenda.propose(db, cid, owners[1], "More recycling bins", scope="1-1", force=True, now=T0)).proposal
    await _threshold(db, cid, 1)
    lift = (await agenda.propose(db, cid, owners[0], "Elevator for 1-1", scope="1-1", category="elevator",
                                 now=T0)).proposal
    lights = (await agenda.propose(db, cid, owners[2], "Lights on the path", scope="all", force=True,
                                   now=T0)).proposal
    benches = (await agenda.propose(db, cid, owners[3], "Benches", scope="1-1", force=True, now=T0)).proposal
    for p in (lift, lights, benches):
        await agenda.accept(db, p.id, MODERATOR, now=T0)
    bench_vote = await voting.open_vote(db, benches.id, MODERATOR, "simple", 3, now=T0)
    await voting.cast_ballot(db, bench_vote.id, owners[0], "yes", now=T0)

    t1 = T0 + timedelta(hours=1)
    room = await _room(db, cid)
    room_sub = await digests.set_room_digest(db, room, MODERATOR, DAILY, now=t1)
    mine = (await digests.set_member_digest(db, owners[0], DAILY, now=t1))[0].subscription
    assert (await _digest(db, room_sub.id, t1)).empty()

    # After it: one change of each kind.
    t2 = t1 + timedelta(hours=1)
    await _threshold(db, cid, 5)
    fence = (await agenda.propose(db, cid, owners[4], "Fix the fence", scope="1", force=True, now=t2)).proposal
    far = (await agenda.propose(db, cid, outsider, "Repaint 2-1", scope="2-1", force=True, now=t2)).proposal
    await agenda.support(db, paint.id, owners[3], now=t2)  # 4 of 5: close to the threshold
    await agenda.decline(db, bins.id, MODERATOR, "The property manager already ordered them", now=t2)
    await voting.open_vote(db, lift.id, MODERATOR, "elevator", 10, now=t2)
    lights_vote = await voting.open_vote(db, lights.id, MODERATOR, "simple", 1, now=t2)
    await voting.cast_ballot(db, lights_vote.id, owners[5], "yes", now=t2)
    await elevator.record_objection(db, lift.id, MODERATOR, "1-1-101", "light", "blocks my window", now=t2)
    await voting.close_vote(db, bench_vote.id, MODERATOR, now=t2)
    await record_progress(db, benches.id, MODERATOR, "Benches ordered", now=t2)

    changes = await _digest(db, room_sub.id, t2)
    assert _ids(changes.new) == [fence.id]  # "2-1" is not this room's business
    assert _ids(changes.near) == [paint.id]
    assert _ids(changes.agenda) == [bins.id] and changes.agenda[0].proposal.state == "declined"
    assert _ids(changes.opened) == [lift.id, lights.id]
    assert _ids(changes.closing) == [lights.id]  # within 48 h; the bench vote closed, the lift is 10 days off
    assert _ids(changes.results) == [benches.id] and changes.results[0].vote.result["passed"]
    assert _ids(changes.objections) == [lift.id] and changes.objections[0].payload["reason"] == "light"
    assert _ids(changes.progress) == [benches.id] and changes.progress[0].payload["note"] == "Benches ordered"
    # A member hears of the whole community.
    assert _ids((await _digest(db, mine.id, t2)).new) == [fence.id, far.id]


async def test_a_quiet_vote_closing_soon_is_not_repeated(db: Database, make_community, link) -> None:
    cid = await make_community(HOMES, support_fixed=1)
    owner = await link(cid, "1-1-101", 1)
    p = (await agenda.propose(db, cid, owner, "Lights", scope="1-1", now=T0)).proposal
    await agenda.accept(db, p.id, MODERATOR, now=T0)
    vote = await voting.open_vote(db, p.id, MODERATOR, "simple", 3, now=T0)
    sub = await digests.set_room_digest(db, await _room(db, cid), MODERATOR, DAILY, now=T0)
    assert (await _digest(db, sub.id, T0 + timedelta(hours=12))).empty()  # 60 h left: not yet
    soon = T0 + timedelta(days=2)
    assert _ids((await _digest(db, sub.id, soon)).closing) == [p.id]  # came into the 48 h window
    async with db.uow() as uow:
        row = await uow.session.get(DigestSubscription, sub.id)
        row.last_sent_at, row.last_seq = soon, (await uow.ledger.head())["seq"]
    later = soon + timedelta(hours=12)
    assert (await _digest(db, sub.id, later)).empty()  # already told, nobody voted since
    await voting.cast_ballot(db, vote.id, owner, "yes", now=later)
    assert _ids((await _digest(db, sub.id, later)).closing) == [p.id]  # turnout moved


async def test_progress_moves_an_adopted_matter_through_implementation(db: Database, make_community, link) -> None:
    cid = await make_community(HOMES, support_fixed=1)
    owner = await link(cid, "1-1-101", 1)
    p = (await agenda.propose(db, cid, owner, "Benches", scope="1-1", now=T0)).proposal
    with pytest.raises(IllegalTransition):
        await record_progress(db, p.id, MODERATOR, "too early", now=T0)
    await agenda.accept(db, p.id, MODERATOR, now=T0)
    vote = await voting.open_vote(db, p.id, MODERATOR, "simple", 1, now=T0)
    await voting.cast_ballot(db, vote.id, owner, "yes", now=T0)
    await voting.close_vote(db, vote.id, MODERATOR, now=T0)
    with pytest.raises(NotEligible):
        await record_progress(db, p.id, owner, "I did it", now=T0)
    with pytest.raises(InvalidInput):
        await record_progress(db, p.id, MODERATOR, "  ", now=T0)
    started = await record_progress(db, p.id, MODERATOR, "Ordered", now=T0)
    assert started.started and started.proposal.state == "implementing"
    more = await record_progress(db, p.id, MODERATOR, "Delivered", now=T0)
    assert not more.started and more.proposal.state == "implementing"
    done = await record_progress(db, p.id, MODERATOR, "", done=True, now=T0)
    assert done.done and done.proposal.state == "done"
    with pytest.raises(IllegalTransition):
        await record_progress(db, p.id, MODERATOR, "again", now=T0)
    async with db.uow() as uow:
        assert await uow.ledger.count("implementation_progress", f"proposal:{p.id}") == 2
        assert await uow.ledger.count("implementation_done", f"proposal:{p.id}") == 1


async def test_done_straight_from_adopted_passes_through_implementing(db: Database, make_community, link) -> None:
    cid = await make_community(HOMES, support_fixed=1)
    owner = await link(cid, "1-1-101", 1)
    p = (await agenda.propose(db, cid, owner, "Benches", scope="1-1", now=T0)).proposal
    await agenda.accept(db, p.id, MODERATOR, now=T0)
    vote = await voting.open_vote(db, p.id, MODERATOR, "simple", 1, now=T0)
    await voting.cast_ballot(db, vote.id, owner, "yes", now=T0)
    await voting.close_vote(db, vote.id, MODERATOR, now=T0)
    done = await record_progress(db, p.id, MODERATOR, "Installed", done=True, now=T0)
    assert done.proposal.state == "done" and done.started
    async with db.uow() as uow:
        entry = (await uow.ledger.for_subject(f"proposal:{p.id}"))[-1]
        assert entry.event == "implementation_done" and '"from":"adopted"' in entry.payload
