"""Ballot presses sharing transactions: same results as one at a time, duplicates once, failures retried."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.deliberation.scope import Scope
from bot.services import agenda, voting
from bot.services.ballot_batch import BallotBatcher, PressRequest
from bot.services.council import add_council_member
from bot.services.directory import Actor, homes
from bot.services.ledger import verify_ledger
from bot.storage import Database
from bot.storage.models import Ballot, Community, MemberLink, utcnow
from tests.services.conftest import census

MODERATOR = Actor("telegram", "9000")


async def _vote(db: Database, owners: int, secret: bool = False) -> int:
    from bot.services.census import import_census

    await import_census(db, "B", census(*[("1-1", str(1000 + i), 1, "80.00", f"O{i}", "person")
                                          for i in range(owners)]))
    await add_council_member(db, "B", "telegram", "9000")
    async with db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
        for i, home in enumerate(await homes(uow, 1, Scope.community())):
            member = await uow.member("telegram", str(i + 1))
            uow.session.add(MemberLink(member_id=member.id, exclusive_unit_id=home.id, role="owner",
                                       status="verified", created_at=utcnow()))
    proposal = (await agenda.propose(db, 1, Actor("telegram", "1"), "Roof", scope="all")).proposal
    await agenda.accept(db, proposal.id, MODERATOR)
    return (await voting.open_vote(db, proposal.id, MODERATOR, "art278", 7, secret=secret)).id


async def test_200_concurrent_presses_and_50_redeliveries_count_200(db: Database) -> None:
    vote_id = await _vote(db, 200)
    batcher = BallotBatcher(db)
    requests = [PressRequest("telegram", 10_000 + i, str(i + 1), vote_id, "yes") for i in range(200)]
    redelivered = [PressRequest("telegram", 10_000 + i, str(i + 1), vote_id, "yes") for i in range(50)]
    outcomes = await asyncio.gather(*(batcher.submit(r) for r in requests + redelivered))
    await batcher.close()
    assert sum(o.cast is not None and o.cast.changed for o in outcomes) == 200
    assert sum(o.duplicate for o in outcomes) == 50
    assert batcher.batches < 200  # they really shared transactions
    async with db.uow() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(Ballot))).scalar_one() == 200
        assert await uow.ledger.count("ballot_cast") == 200
    assert (await verify_ledger(db))[1] is None


async def test_changes_within_one_batch_follow_arrival_order(db: Database) -> None:
    vote_id = await _vote(db, 3)
    batcher = BallotBatcher(db)
    presses = [PressRequest("telegram", 1, "1", vote_id, "yes"), PressRequest("telegram", 2, "1", vote_id, "no"),
               PressRequest("telegram", 3, "1", vote_id, "no"), PressRequest("telegram", 4, "2", vote_id, "maybe"),
               PressRequest("telegram", 5, "77", vote_id, "yes"), PressRequest("telegram", 6, "2", 999, "yes")]
    outcomes = await asyncio.gather(*(batcher.submit(p) for p in presses))
    assert [o.cast.changed if o.cast else type(o.error).__name__ for o in outcomes] == [
        True, True, False, "InvalidInput", "NotEligible", "NotFound"]
    async with db.uow() as uow:
        ballot = (await uow.session.execute(select(Ballot))).scalar_one()
        events = [e.event for e in await uow.ledger.for_subject(f"vote:{vote_id}")]
    assert (ballot.choice, ballot.revision) == ("no", 2)
    assert events == ["ballot_cast", "ballot_changed"]
    # The same tally as through the one-at-a-time service.
    closed = await voting.close_vote(db, vote_id, MODERATOR)
    assert closed.result["no"]["heads"] == 1


async def test_a_failing_batch_is_retried_press_by_press(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    vote_id = await _vote(db, 5)
    batcher = BallotBatcher(db)

    async def broken(batch: list[PressRequest]) -> list[object]:
        raise RuntimeError("lost the connection")

    monkeypatch.setattr(batcher, "_process", broken)
    outcomes = await asyncio.gather(*(batcher.submit(PressRequest("telegram", 50 + i, str(i + 1), vote_id, "yes"))
                                      for i in range(5)))
    again = await batcher.submit(PressRequest("telegram", 50, "1", vote_id, "yes"))
    assert all(o.cast is not None and o.cast.changed for o in outcomes) and again.duplicate
    async with db.uow() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(Ballot))).scalar_one() == 5


async def test_closed_votes_refuse_batched_presses(db: Database) -> None:
    vote_id = await _vote(db, 2)
    await voting.close_vote(db, vote_id, MODERATOR)
    outcome = await BallotBatcher(db).submit(PressRequest("telegram", 1, "1", vote_id, "yes"))
    assert outcome.error is not None and outcome.error.params.get("current") == "closed"


async def test_an_unexpected_error_in_the_fallback_still_answers_every_press(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote_id = await _vote(db, 5)
    batcher = BallotBatcher(db)

    async def broken(batch: list[PressRequest]) -> list[object]:
        raise RuntimeError("lost the connection")

    async def broken_for_two(batch: list[PressRequest]) -> list[object]:
        if batch[0].user_id == "2":
            raise RuntimeError("still lost")
        return await original(batch)

    original = batcher._record
    monkeypatch.setattr(batcher, "_process", broken)
    monkeypatch.setattr(batcher, "_record", broken_for_two)
    outcomes = await asyncio.wait_for(asyncio.gather(
        *(batcher.submit(PressRequest("telegram", 70 + i, str(i + 1), vote_id, "yes")) for i in range(3))), 10)
    assert [(o.failed, o.cast is not None) for o in outcomes] == [(False, True), (True, False), (False, True)]
    async with db.uow() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(Ballot))).scalar_one() == 2
