"""The database itself refuses what the rules forbid, whatever the code above it does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.storage import Database
from bot.storage.models import (
    Ballot,
    ExclusiveUnit,
    Member,
    Owner,
    Proposal,
    RollEntry,
    Support,
    Vote,
    utcnow,
)


async def _proposal_and_vote(db: Database) -> tuple[int, int, int]:
    async with db.uow() as uow:
        member = await uow.member("telegram", "1001", "Author")
        proposal = Proposal(community_id=1, author_member_id=member.id, title="Elevator", scope="1-1",
                            support_threshold=5, households_in_scope=12, collecting_until=utcnow() + timedelta(days=14))
        uow.session.add(proposal)
        await uow.session.flush()
        vote = Vote(proposal_id=proposal.id, kind="art278_major", scope="1-1", closes_at=utcnow() + timedelta(days=7))
        uow.session.add(vote)
        await uow.session.flush()
        assert member.id and proposal.id and vote.id
        return member.id, proposal.id, vote.id


async def test_second_support_from_same_household_is_refused(db: Database, community: str) -> None:
    member_id, proposal_id, _ = await _proposal_and_vote(db)
    async with db.uow() as uow:
        uow.session.add(Support(proposal_id=proposal_id, household_key="owner:1", member_id=member_id))
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            uow.session.add(Support(proposal_id=proposal_id, household_key="owner:1", member_id=member_id))
    async with db.uow() as uow:
        count = len((await uow.session.execute(select(Support))).scalars().all())
    assert count == 1


async def test_second_ballot_from_same_elector_is_refused(db: Database, community: str) -> None:
    member_id, _, vote_id = await _proposal_and_vote(db)
    async with db.uow() as uow:
        uow.session.add(RollEntry(vote_id=vote_id, elector_key="owner:1", area_centi=6966))
        uow.session.add(Ballot(vote_id=vote_id, elector_key="owner:1", choice="yes", commitment="x" * 64, nonce="n",
                               cast_by_member_id=member_id))
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            uow.session.add(Ballot(vote_id=vote_id, elector_key="owner:1", choice="no", commitment="y" * 64, nonce="n",
                                   cast_by_member_id=member_id))
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            uow.session.add(RollEntry(vote_id=vote_id, elector_key="owner:1", area_centi=1))


async def test_insert_ignore_reports_the_first_writer_only(db: Database, community: str) -> None:
    _, proposal_id, _ = await _proposal_and_vote(db)
    async with db.uow() as uow:
        values = {"proposal_id": proposal_id, "household_key": "unit:7", "member_id": 1, "created_at": utcnow()}
        assert await uow.insert_ignore(Support, values, ("proposal_id", "household_key")) is True
        assert await uow.insert_ignore(Support, values, ("proposal_id", "household_key")) is False


@pytest.mark.parametrize("area", [0, -5])
async def test_area_must_be_positive(db: Database, community: str, area: int) -> None:
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            owner = (await uow.session.execute(select(Owner).limit(1))).scalar_one()
            uow.session.add(ExclusiveUnit(building_unit_id=1, floor=7, room="701", area_centi=area,
                                          area_source="registry", owner_id=owner.id))


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            uow.session.add(Support(proposal_id=999, household_key="unit:1", member_id=999))


async def test_member_identity_is_unique_per_platform(db: Database) -> None:
    async with db.uow() as uow:
        first = await uow.member("telegram", "42", "A")
        again = await uow.member("telegram", "42", "A2")
        other = await uow.member("wecom", "42")
        assert first.id == again.id != other.id
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            uow.session.add(Member(platform="telegram", external_id="42"))


async def test_owner_counts_in_sql(db: Database, community: str) -> None:
    """Heads per owner and area per scope come straight out of SQL (the sample: 144 homes)."""
    from sqlalchemy import func

    async with db.uow() as uow:
        homes, owners, area = (
            await uow.session.execute(
                select(func.count(ExclusiveUnit.id), func.count(func.distinct(ExclusiveUnit.owner_id)),
                       func.sum(ExclusiveUnit.area_centi))
            )
        ).one()
    assert homes == 144
    assert owners == 138  # 144 homes; four owners hold two each, the developer three
    assert area > 0
