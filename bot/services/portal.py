"""What a signed-in resident may see on the web pages, read with their rights checked on the server.

A member sees a community's matters and votes when they hold a verified home in the matter's scope or
sit on its council; anything else is refused as if it did not exist for them (``NotEligible``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.deliberation.errors import NotEligible
from bot.deliberation.proposal import OPEN_STATES
from bot.deliberation.scope import Scope, ScopeLevel
from bot.deliberation.vote_kinds import get_kind
from bot.services import agenda, directory, voting
from bot.services.directory import Home
from bot.storage.models import Ballot, Community, LedgerEntry, Member, Proposal, RollEntry, Support, Vote
from bot.storage.uow import Database, UnitOfWork


@dataclass(frozen=True, slots=True)
class Place:
    """A community the member belongs to: their homes in it (with role) and whether they sit on its council."""

    community_id: int
    name: str
    homes: list[tuple[Home, str]]
    council: bool

    def sees(self, scope: str) -> bool:
        where = Scope.parse(scope)
        return self.council or any(where.contains(home.building, home.unit) for home, _role in self.homes)

    def scopes(self) -> list[str]:
        """Where the member may propose: each home's unit and building, and the whole community."""
        found: list[str] = []
        for home, _role in self.homes:
            for scope in (f"{home.building}-{home.unit}", home.building):
                if scope not in found:
                    found.append(scope)
        return [*found, "all"] if found else []


@dataclass(frozen=True, slots=True)
class Overview:
    places: list[Place]
    matters: list[tuple[Proposal, int, Vote | None]]  # open matters in scope, co-signatures, current vote
    waiting: list[tuple[Vote, Proposal]]  # open votes the member is on the roll of and has not voted in


async def places(uow: UnitOfWork, member_id: int) -> list[Place]:
    communities = (await uow.session.execute(select(Community).order_by(col(Community.id)))).scalars().all()
    found = []
    for community in communities:
        assert community.id is not None
        links = await directory.verified_links(uow, member_id, community.id)
        council = await directory.is_council_member(uow, member_id, community.id)
        if links or council:
            found.append(Place(community.id, community.name, [(link.home, link.role) for link in links], council))
    return found


async def overview(db: Database, member_id: int) -> Overview:
    async with db.uow(readonly=True) as uow:
        mine = await places(uow, member_id)
        by_id = {place.community_id: place for place in mine}
        matters: list[tuple[Proposal, int, Vote | None]] = []
        waiting: list[tuple[Vote, Proposal]] = []
        if by_id:
            rows = await uow.session.execute(
                select(Proposal).where(col(Proposal.community_id).in_(by_id),
                                       col(Proposal.state).in_([str(s) for s in OPEN_STATES]))
                .order_by(col(Proposal.id).desc()))
            for proposal in rows.scalars():
                if by_id[proposal.community_id].sees(proposal.scope):
                    assert proposal.id is not None
                    vote = await voting.current_vote(uow, proposal.id)
                    matters.append((proposal, await agenda.supports_count(uow, proposal.id), vote))
            for proposal, _count, vote in matters:
                if vote is None or vote.status != "open" or vote.id is None:
                    continue
                keys = await my_keys(uow, member_id, vote, proposal)
                if keys and not await _voted(uow, vote.id, keys):
                    waiting.append((vote, proposal))
        return Overview(mine, matters, waiting)


async def my_keys(uow: UnitOfWork, member_id: int, vote: Vote, proposal: Proposal) -> list[str]:
    """The electors on the vote's frozen roll this member casts for (empty: not on the roll)."""
    keys = await directory.elector_keys(uow, member_id, proposal.community_id, Scope.parse(vote.scope),
                                        get_kind(vote.kind).electorate)
    if not keys:
        return []
    rows = await uow.session.execute(select(col(RollEntry.elector_key)).where(
        col(RollEntry.vote_id) == vote.id, col(RollEntry.elector_key).in_(keys)))
    return sorted(set(rows.scalars()))


async def _voted(uow: UnitOfWork, vote_id: int, keys: list[str]) -> bool:
    found = await uow.session.execute(select(col(Ballot.id)).where(
        col(Ballot.vote_id) == vote_id, col(Ballot.elector_key).in_(keys)).limit(1))
    return found.first() is not None


async def _place_for(uow: UnitOfWork, member_id: int, proposal: Proposal) -> Place:
    for place in await places(uow, member_id):
        if place.community_id == proposal.community_id and place.sees(proposal.scope):
            return place
    raise NotEligible("not in this matter's scope", reason="out_of_scope", scope=proposal.scope)


@dataclass(frozen=True, slots=True)
class Matter:
    proposal: Proposal
    supports: int
    vote: Vote | None
    history: list[tuple[Any, str, dict[str, Any]]]  # (when, event, payload) from the ledger
    supported: bool  # the member's household has co-signed


async def matter(db: Database, member_id: int, proposal_id: int) -> Matter:
    async with db.uow(readonly=True) as uow:
        proposal = await uow.get(Proposal, proposal_id, what="proposal")
        place = await _place_for(uow, member_id, proposal)
        supports = await agenda.supports_count(uow, proposal_id)
        vote = await voting.current_vote(uow, proposal_id)
        rows = await uow.session.execute(
            select(col(LedgerEntry.at), col(LedgerEntry.event), col(LedgerEntry.payload))
            .where(col(LedgerEntry.subject) == f"proposal:{proposal_id}").order_by(col(LedgerEntry.seq)))
        history = [(at, event, json.loads(payload)) for at, event, payload in rows]
        links = [link for link in await directory.verified_links(uow, member_id, place.community_id,
                                                                  Scope.parse(proposal.scope))]
        key = directory.household_key(links)
        supported = False
        if key is not None:
            supported = (await uow.session.execute(select(col(Support.id)).where(
                col(Support.proposal_id) == proposal_id, col(Support.household_key) == key))).first() is not None
        return Matter(proposal, supports, vote, history, supported)


@dataclass(frozen=True, slots=True)
class BallotView:
    vote: Vote
    proposal: Proposal
    keys: list[str]  # the member's electors on the roll (empty: they may look but not vote)
    mine: Any = None  # the member's current choice (None: not voted; a secret vote's stays hidden)
    voted: bool = False
    source: str | None = None
    standing: dict[str, Any] = field(default_factory=dict)  # turnout (voting.turnouts_in)


async def ballot(db: Database, member_id: int, vote_id: int) -> BallotView:
    async with db.uow(readonly=True) as uow:
        vote = await uow.get(Vote, vote_id, what="vote")
        proposal = await uow.get(Proposal, vote.proposal_id, what="proposal")
        await _place_for(uow, member_id, proposal)
        keys = await my_keys(uow, member_id, vote, proposal)
        mine, voted, source = None, False, None
        if keys:
            row = (await uow.session.execute(select(Ballot).where(
                col(Ballot.vote_id) == vote_id, col(Ballot.elector_key) == keys[0]))).scalar_one_or_none()
            if row is not None:
                voted, source = True, row.source
                mine = None if vote.secret else row.choice
        standing = (await voting.turnouts_in(uow, [vote_id]))[vote_id][1]
        return BallotView(vote, proposal, keys, mine, voted, source, standing)


async def member(db: Database, member_id: int) -> Member | None:
    async with db.uow(readonly=True) as uow:
        return await uow.session.get(Member, member_id)


def unit_scope(scope: str) -> bool:
    return Scope.parse(scope).level is ScopeLevel.UNIT
