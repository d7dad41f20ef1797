"""Ballot presses, many per transaction.

A busy vote sees hundreds of presses a second. Each press still gets the full treatment (its
update claimed once, the presser found on the frozen roll, the ballot written, a ledger entry
chained), but the presses that arrive while one transaction runs are handled together in the next:
set-based reads, one commit, one trip to the ledger's tip. If a batch fails as a whole (a race
with another process), each press is retried alone through ``voting.cast_ballot``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update

from bot.deliberation.errors import DomainError, IllegalTransition, NotEligible, NotFound
from bot.deliberation.scope import Scope
from bot.deliberation.vote_kinds import get_kind
from bot.services import directory
from bot.services.directory import Actor, Home, Link
from bot.services.voting import Cast, ballot_write, normalize_choice
from bot.storage.inbox import claim_handled
from bot.storage.models import (
    Ballot,
    Building,
    CouncilRole,
    ExclusiveUnit,
    Member,
    MemberLink,
    Proposal,
    RollEntry,
    Vote,
    utcnow,
)
from bot.storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)
MAX_BATCH = 500


@dataclass
class PressRequest:
    platform: str
    update_id: int
    user_id: str
    vote_id: int
    choice: Any
    future: asyncio.Future[PressOutcome] = field(repr=False, default=None)  # type: ignore[assignment]
    bot: str = ""  # the inbox key of the bot it came to ("telegram:<bot id>"); "" = the platform's


@dataclass(frozen=True, slots=True)
class PressOutcome:
    duplicate: bool  # this update was handled before: say nothing
    cast: Cast | None = None
    error: DomainError | None = None
    member_locale: str | None = None
    member_language: str | None = None


class BallotBatcher:
    def __init__(self, db: Database, claimer: str = "batch") -> None:
        self.db = db
        self.claimer = claimer  # the process's boot id: whose claim an inbox row carries
        self._queue: asyncio.Queue[PressRequest] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, request: PressRequest) -> PressOutcome:
        request.future = asyncio.get_running_loop().create_future()
        await self._queue.put(request)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run())
        return await request.future

    async def close(self) -> None:
        """Finish the presses already queued (the worker stops by itself when the queue is empty)."""
        if self._worker is not None:
            await self._worker

    async def _run(self) -> None:
        while not self._queue.empty():
            batch = [self._queue.get_nowait()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            self.batches += 1
            try:
                outcomes = await self._process(batch)
            except Exception:  # noqa: BLE001 - fall back to one transaction per press
                log.warning("ballot batch of %d failed; retrying one by one", len(batch), exc_info=True)
                outcomes = [await self._alone(request) for request in batch]
            for request, outcome in zip(batch, outcomes, strict=True):
                if not request.future.done():
                    request.future.set_result(outcome)

    async def _alone(self, request: PressRequest) -> PressOutcome:
        from bot.services.voting import cast_ballot

        async with self.db.uow() as uow:
            if not await _claim(uow, [request], self.claimer):
                return PressOutcome(True)
        try:
            cast = await cast_ballot(self.db, request.vote_id, Actor(request.platform, request.user_id),
                                     request.choice)
            return PressOutcome(False, cast)
        except DomainError as error:
            return PressOutcome(False, error=error)

    async def _process(self, batch: list[PressRequest]) -> list[PressOutcome]:
        now = utcnow()
        async with self.db.uow() as uow:
            fresh = await _claim(uow, batch, self.claimer)
            members = await _members(uow, batch)
            votes = await _votes(uow, {r.vote_id for r in batch})
            links = await _links(uow, [m.id for m in members.values() if m.id is not None])
            councils = await _councils(uow, [m.id for m in members.values() if m.id is not None])
            wanted: dict[int, list[str]] = {}
            for index, request in enumerate(batch):
                member = members.get((request.platform, request.user_id))
                entry = votes.get(request.vote_id)
                if member is None or entry is None or member.id is None:
                    continue
                vote, community_id = entry
                kind = get_kind(vote.kind)
                scope = Scope.parse(vote.scope)
                in_scope = [link for cid, link in links.get(member.id, [])
                            if cid == community_id and scope.contains(link.home.building, link.home.unit)]
                wanted[index] = directory.keys_for(in_scope, kind.electorate, member.id,
                                                   (member.id, community_id) in councils)
            pairs = {(batch[i].vote_id, key) for i, keys in wanted.items() for key in keys}
            on_roll = await _on_roll(uow, pairs)
            ballots = await _ballots(uow, on_roll)
            outcomes: list[PressOutcome] = []
            inserts: dict[tuple[int, str], dict[str, Any]] = {}
            events: list[tuple[str, str, dict[str, Any], datetime]] = []
            for index, request in enumerate(batch):
                member = members.get((request.platform, request.user_id))
                locale = (member.locale, member.language_code) if member else (None, None)
                if request.update_id not in fresh.get(request.platform, set()):
                    outcomes.append(PressOutcome(True))
                    continue
                fresh[request.platform].discard(request.update_id)  # the same update twice in one batch
                try:
                    cast = self._apply(request, member, votes, wanted.get(index, []), on_roll, ballots, inserts,
                                       events, now)
                    outcomes.append(PressOutcome(False, cast, None, *locale))
                except DomainError as error:
                    outcomes.append(PressOutcome(False, None, error, *locale))
            if inserts:
                await uow.session.execute(insert(Ballot), list(inserts.values()))
            for (vote_id, key), row in ballots.items():
                if row.get("_dirty") and (vote_id, key) not in inserts:
                    await uow.session.execute(
                        update(Ballot).where(Ballot.vote_id == vote_id, Ballot.elector_key == key)
                        .values({k: v for k, v in row.items() if not k.startswith("_")}))
            await uow.ledger.append_many(events)
        return outcomes

    def _apply(self, request: PressRequest, member: Member | None, votes: dict[int, tuple[Vote, int]],
               keys: list[str], on_roll: set[tuple[int, str]], ballots: dict[tuple[int, str], dict[str, Any]],
               inserts: dict[tuple[int, str], dict[str, Any]], events: list[tuple[str, str, dict[str, Any], datetime]],
               now: datetime) -> Cast:
        entry = votes.get(request.vote_id)
        if entry is None:
            raise NotFound("no vote", what="vote", id=request.vote_id)
        vote, _community = entry
        if vote.status != "open":
            raise IllegalTransition("closed", "cast")
        if now >= vote.closes_at:
            raise IllegalTransition("past_deadline", "cast")
        choice = normalize_choice(get_kind(vote.kind), vote, request.choice)
        electors = sorted(key for key in keys if (request.vote_id, key) in on_roll)
        if member is None or not electors:
            raise NotEligible("not on this vote's roll", reason="not_on_roll", vote=request.vote_id)
        changed = False
        for key in electors:
            current = ballots.get((request.vote_id, key))
            if current is not None and current["choice"] == choice and current["source"] == "self":
                continue
            revision = 1 if current is None else current["revision"] + 1
            write = ballot_write(vote, key, choice, source="self", member_id=member.id, authority=None,
                                 revision=revision, now=now)
            ballots[(request.vote_id, key)] = {**write.row, "_dirty": True}
            if current is None or (request.vote_id, key) in inserts:
                inserts[(request.vote_id, key)] = write.row
            events.append((write.event, f"vote:{request.vote_id}", write.payload, now))
            changed = True
        return Cast(vote, electors, changed, choice)


async def _claim(uow: UnitOfWork, batch: list[PressRequest], claimer: str) -> dict[str, set[int]]:
    """Mark the updates handled in the inbox; returns those taken now (per platform)."""
    # Claimed and handled at once: the mark commits with the ballots or not at all.
    taken = await claim_handled(uow, [(r.bot or r.platform, r.update_id) for r in batch], claimer)
    fresh: dict[str, set[int]] = defaultdict(set)
    for request in batch:
        if (request.bot or request.platform, request.update_id) in taken:
            fresh[request.platform].add(request.update_id)
    return fresh


async def _members(uow: UnitOfWork, batch: list[PressRequest]) -> dict[tuple[str, str], Member]:
    pairs = {(r.platform, r.user_id) for r in batch}
    rows = await uow.session.execute(select(Member).where(tuple_(Member.platform, Member.external_id).in_(pairs)))
    return {(m.platform, m.external_id): m for m in rows.scalars()}


async def _votes(uow: UnitOfWork, vote_ids: set[int]) -> dict[int, tuple[Vote, int]]:
    rows = await uow.session.execute(
        select(Vote, Proposal.community_id).join(Proposal, Proposal.id == Vote.proposal_id)  # type: ignore[arg-type]
        .where(Vote.id.in_(vote_ids)))  # type: ignore[union-attr]
    return {vote.id: (vote, community_id) for vote, community_id in rows}


async def _links(uow: UnitOfWork, member_ids: list[int]) -> dict[int, list[tuple[int, Link]]]:
    if not member_ids:
        return {}
    rows = await uow.session.execute(
        directory.homes_query(None)
        .add_columns(MemberLink.member_id, MemberLink.role, Building.community_id)
        .join(MemberLink, MemberLink.exclusive_unit_id == ExclusiveUnit.id)  # type: ignore[arg-type]
        .where(MemberLink.member_id.in_(member_ids), MemberLink.status == "verified"))  # type: ignore[attr-defined]
    out: dict[int, list[tuple[int, Link]]] = defaultdict(list)
    for *home, member_id, role, community_id in rows:
        out[member_id].append((community_id, Link(Home(*home), role)))
    return out


async def _councils(uow: UnitOfWork, member_ids: list[int]) -> set[tuple[int, int]]:
    if not member_ids:
        return set()
    rows = await uow.session.execute(select(CouncilRole.member_id, CouncilRole.community_id).where(
        CouncilRole.member_id.in_(member_ids)))  # type: ignore[attr-defined]
    return {(m, c) for m, c in rows}


async def _on_roll(uow: UnitOfWork, pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    if not pairs:
        return set()
    rows = await uow.session.execute(select(RollEntry.vote_id, RollEntry.elector_key).where(
        tuple_(RollEntry.vote_id, RollEntry.elector_key).in_(pairs)))
    return {(v, k) for v, k in rows}


async def _ballots(uow: UnitOfWork, pairs: set[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    if not pairs:
        return {}
    rows = await uow.session.execute(select(Ballot).where(tuple_(Ballot.vote_id, Ballot.elector_key).in_(pairs)))
    return {(b.vote_id, b.elector_key): {"choice": b.choice, "source": b.source, "revision": b.revision}
            for b in rows.scalars()}

