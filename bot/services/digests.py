"""Scheduled digests: a room's (set by its moderators) and a member's private one, and what goes in them.

A digest covers the ledger entries after the subscription's cursor ``last_seq``: the ledger already
records every change, so a digest is a read of it plus the current state (supports, turnout). A new
subscription starts its cursor at the ledger's head: the first digest tells what happened since.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import col

from bot.deliberation.errors import InvalidInput, NotEligible
from bot.deliberation.mandate import Power
from bot.deliberation.scope import Scope
from bot.services import directory
from bot.services.directory import Actor
from bot.storage.models import (
    Building,
    BuildingUnit,
    ChatRoom,
    Community,
    DigestSubscription,
    ExclusiveUnit,
    LedgerEntry,
    Member,
    MemberLink,
    Proposal,
    Support,
    Vote,
    utcnow,
)
from bot.storage.uow import Database, UnitOfWork, rowcount

CADENCES = ("daily", "weekly")
DEFAULT_TIME = "20:00"
CLOSING_SOON = timedelta(hours=48)
# "Near the threshold": at least 4/5 of the co-signatures needed, compared as integers.
NEAR_NUM, NEAR_DEN = 4, 5
_TIME_RE = re.compile(r"^(\d{1,2})[:\uff1a](\d{2})$")  # a full-width colon is accepted too

PROPOSAL_EVENTS = (
    "proposal_submitted", "support_added", "threshold_reached", "proposal_accepted", "proposal_declined",
    "proposal_merged", "proposal_withdrawn", "proposal_expired", "vote_opened", "vote_closed",
    "objection_recorded", "objection_updated", "objection_period_ended", "implementation_progress",
    "implementation_done", "proposal_evaluated",
)
AGENDA_EVENTS = ("threshold_reached", "proposal_accepted", "proposal_declined", "proposal_merged",
                 "proposal_withdrawn", "proposal_expired")
OBJECTION_EVENTS = ("objection_recorded", "objection_updated", "objection_period_ended")
PROGRESS_EVENTS = ("implementation_progress", "implementation_done")
BALLOT_EVENTS = ("ballot_cast", "ballot_changed")


# --- schedules --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    cadence: str  # daily | weekly
    at_time: str  # HH:MM, community time
    weekday: int | None = None  # 0 = Monday; weekly only

    def __post_init__(self) -> None:
        if self.cadence not in CADENCES:
            raise InvalidInput(f"unknown cadence {self.cadence!r}", field="cadence")
        if (self.weekday is None) != (self.cadence == "daily"):
            raise InvalidInput("a weekly digest has a weekday, a daily one none", field="weekday")
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise InvalidInput("weekday 0-6", field="weekday")
        parse_time(self.at_time)

    @property
    def hour(self) -> int:
        return int(self.at_time[:2])

    @property
    def minute(self) -> int:
        return int(self.at_time[3:])


def parse_time(text: str) -> str:
    """``HH:MM`` (``9:00`` too) normalised to ``09:00``; InvalidInput(field="time") otherwise."""
    match = _TIME_RE.match(text.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise InvalidInput(f"bad time {text!r}", field="time", value=text)
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def schedule_of(subscription: DigestSubscription) -> Schedule:
    return Schedule(subscription.cadence, subscription.at_time, subscription.weekday)


def _schedule_payload(schedule: Schedule) -> dict[str, Any]:
    return {"cadence": schedule.cadence, "weekday": schedule.weekday, "at": schedule.at_time}


async def _head_seq(uow: UnitOfWork) -> int:
    return int((await uow.ledger.head())["seq"])


# --- a room's digest ----------------------------------------------------------------------------------


async def room_digest(db: Database, room_id: int) -> DigestSubscription | None:
    async with db.uow(readonly=True) as uow:
        return (
            await uow.session.execute(select(DigestSubscription).where(col(DigestSubscription.room_id) == room_id))
        ).scalar_one_or_none()


async def set_room_digest(
    db: Database, room_id: int, actor: Actor, schedule: Schedule, now: datetime | None = None
) -> DigestSubscription:
    """Set or change a room's digest (moderators of the room's community); the cursor is kept on a change."""
    now = now or utcnow()
    async with db.uow() as uow:
        room = await uow.get(ChatRoom, room_id, what="room")
        moderator = await directory.require_moderator(uow, actor, room.community_id, power=Power.ROOM_DIGEST,
                                                     room_id=room_id)
        await uow.insert_ignore(
            DigestSubscription,
            {"community_id": room.community_id, "room_id": room_id, "cadence": schedule.cadence,
             "weekday": schedule.weekday, "at_time": schedule.at_time, "last_seq": await _head_seq(uow),
             "created_by_member_id": moderator.id, "created_at": now},
            ("room_id",),
        )
        subscription = (
            await uow.session.execute(
                select(DigestSubscription).where(col(DigestSubscription.room_id) == room_id).with_for_update()
            )
        ).scalar_one()
        subscription.community_id = room.community_id  # a re-bound room follows its community
        subscription.cadence, subscription.weekday, subscription.at_time = (
            schedule.cadence, schedule.weekday, schedule.at_time)
        await uow.ledger.append("digest_set", f"room:{room_id}",
                                {**_schedule_payload(schedule), "subscription": subscription.id,
                                 "by": moderator.id}, at=now)
        return subscription


async def clear_room_digest(db: Database, room_id: int, actor: Actor, now: datetime | None = None) -> bool:
    """Stop a room's digest; False (and no ledger entry) when it had none."""
    now = now or utcnow()
    async with db.uow() as uow:
        room = await uow.get(ChatRoom, room_id, what="room")
        moderator = await directory.require_moderator(uow, actor, room.community_id, power=Power.ROOM_DIGEST,
                                                     room_id=room_id)
        removed = await uow.session.execute(
            delete(DigestSubscription).where(col(DigestSubscription.room_id) == room_id))
        if not rowcount(removed):
            return False
        await uow.ledger.append("digest_cleared", f"room:{room_id}", {"by": moderator.id}, at=now)
        return True


# --- a member's private digest ------------------------------------------------------------------------


async def _home_communities(uow: UnitOfWork, member_id: int) -> list[int]:
    """Communities where the member has a verified home, in id order."""
    rows = await uow.session.execute(
        select(col(Building.community_id)).distinct()
        .join(BuildingUnit, col(BuildingUnit.building_id) == col(Building.id))
        .join(ExclusiveUnit, col(ExclusiveUnit.building_unit_id) == col(BuildingUnit.id))
        .join(MemberLink, col(MemberLink.exclusive_unit_id) == col(ExclusiveUnit.id))
        .where(col(MemberLink.member_id) == member_id, col(MemberLink.status) == "verified")
        .order_by(col(Building.community_id))
    )
    return [int(c) for c in rows.scalars()]


@dataclass(frozen=True, slots=True)
class MemberDigest:
    subscription: DigestSubscription
    community: str


async def member_digests(db: Database, actor: Actor) -> list[MemberDigest]:
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        rows = await uow.session.execute(
            select(DigestSubscription, col(Community.name))
            .join(Community, col(Community.id) == col(DigestSubscription.community_id))
            .where(col(DigestSubscription.member_id) == member.id)
            .order_by(col(DigestSubscription.community_id))
        )
        return [MemberDigest(sub, name) for sub, name in rows]


async def set_member_digest(
    db: Database, actor: Actor, schedule: Schedule, now: datetime | None = None
) -> list[MemberDigest]:
    """One private digest per community where the member has a verified home (set or changed)."""
    now = now or utcnow()
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        assert member.id is not None
        communities = await _home_communities(uow, member.id)
        if not communities:
            raise NotEligible("register a home first", reason="not_registered")
        head = await _head_seq(uow)
        out = []
        for community_id in communities:
            await uow.insert_ignore(
                DigestSubscription,
                {"community_id": community_id, "member_id": member.id, "cadence": schedule.cadence,
                 "weekday": schedule.weekday, "at_time": schedule.at_time, "last_seq": head,
                 "created_by_member_id": member.id, "created_at": now},
                ("member_id", "community_id"),
            )
            subscription = (
                await uow.session.execute(
                    select(DigestSubscription).where(col(DigestSubscription.member_id) == member.id,
                                                     col(DigestSubscription.community_id) == community_id)
                    .with_for_update()
                )
            ).scalar_one()
            subscription.cadence, subscription.weekday, subscription.at_time = (
                schedule.cadence, schedule.weekday, schedule.at_time)
            await uow.ledger.append("digest_set", f"member:{member.id}",
                                    {**_schedule_payload(schedule), "subscription": subscription.id,
                                     "community": community_id, "by": member.id}, at=now)
            community = await directory.community_by_id(uow, community_id)
            out.append(MemberDigest(subscription, community.name))
        return out


async def clear_member_digest(db: Database, actor: Actor, now: datetime | None = None) -> int:
    """Stop the member's private digests; how many there were."""
    now = now or utcnow()
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        removed = await uow.session.execute(
            delete(DigestSubscription).where(col(DigestSubscription.member_id) == member.id))
        count = rowcount(removed)
        if count:
            await uow.ledger.append("digest_cleared", f"member:{member.id}", {"by": member.id, "count": count},
                                    at=now)
        return count


# --- content ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One proposal line; ``payload`` is the ledger entry that put it there (if any)."""

    proposal: Proposal
    supports: int = 0
    vote: Vote | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    event: str = ""


@dataclass
class Changes:
    """What a digest tells, section by section, in ledger order."""

    new: list[Item] = field(default_factory=list)
    near: list[Item] = field(default_factory=list)
    agenda: list[Item] = field(default_factory=list)
    opened: list[Item] = field(default_factory=list)
    closing: list[Item] = field(default_factory=list)  # open votes closing within 48 h (turnout added later)
    results: list[Item] = field(default_factory=list)
    objections: list[Item] = field(default_factory=list)
    progress: list[Item] = field(default_factory=list)
    evaluations: list[Item] = field(default_factory=list)  # the latest counts of each done matter evaluated

    def empty(self) -> bool:
        return not any((self.new, self.near, self.agenda, self.opened, self.closing, self.results,
                        self.objections, self.progress, self.evaluations))


@dataclass(frozen=True, slots=True)
class Audience:
    """Whom a subscription speaks to: a room (its chat and scope) or a member (their private chat)."""

    community_id: int
    community: str
    scope: Scope
    room: ChatRoom | None = None
    member: Member | None = None


async def audience(uow: UnitOfWork, subscription: DigestSubscription) -> Audience:
    if subscription.room_id is not None:
        room = await uow.get(ChatRoom, subscription.room_id, what="room")
        community = await directory.community_by_id(uow, room.community_id)
        return Audience(room.community_id, community.name, Scope.parse(room.scope), room=room)
    assert subscription.member_id is not None
    member = await uow.get(Member, subscription.member_id, what="member")
    community = await directory.community_by_id(uow, subscription.community_id)
    # A member hears of the whole community they live in (the room digests are the per-scope view).
    return Audience(subscription.community_id, community.name, Scope.community(), member=member)


def is_near(supports: int, threshold: int) -> bool:
    return supports < threshold and NEAR_DEN * supports >= NEAR_NUM * threshold


async def build_digest(
    uow: UnitOfWork, subscription: DigestSubscription, now: datetime, head: int | None = None
) -> Changes:
    """What changed for this subscription between its cursor and ``head`` (the ledger's tip by default).

    Votes closing within 48 h are listed when they came into that window since the last digest or
    had ballots since: a quiet vote is not repeated every day.
    """
    head = await _head_seq(uow) if head is None else head
    where = await audience(uow, subscription)
    entries = (
        await uow.session.execute(
            select(col(LedgerEntry.event), col(LedgerEntry.subject), col(LedgerEntry.payload))
            .where(col(LedgerEntry.seq) > subscription.last_seq, col(LedgerEntry.seq) <= head,
                   col(LedgerEntry.event).in_(PROPOSAL_EVENTS))
            .order_by(col(LedgerEntry.seq))
        )
    ).all()
    ids = {int(subject.split(":", 1)[1]) for _event, subject, _payload in entries if subject.startswith("proposal:")}
    proposals = await _proposals(uow, where, ids)
    counts = await _supports(uow, list(proposals))
    voted = [json.loads(raw).get("vote") for event, _s, raw in entries if event in ("vote_opened", "vote_closed")]
    votes = await _votes(uow, voted)
    changes = Changes()
    seen: dict[str, set[int]] = {}

    def once(section: str, key: int) -> bool:
        taken = seen.setdefault(section, set())
        if key in taken:
            return False
        taken.add(key)
        return True

    for event, subject, raw in entries:
        proposal = proposals.get(int(subject.split(":", 1)[1]))
        if proposal is None or proposal.id is None:
            continue  # another community, or a scope this room does not hear of
        payload = json.loads(raw)
        item = Item(proposal, counts.get(proposal.id, 0), votes.get(payload.get("vote") or 0), payload, event)
        if event == "proposal_submitted" and once("new", proposal.id):
            changes.new.append(item)
        elif event == "support_added":
            if (proposal.state == "collecting" and is_near(item.supports, proposal.support_threshold)
                    and proposal.id not in seen.get("new", set()) and once("near", proposal.id)):
                changes.near.append(item)
        elif event in AGENDA_EVENTS and once("agenda", proposal.id):
            changes.agenda.append(item)
        elif event == "vote_opened" and item.vote is not None and once("opened", item.vote.id or 0):
            changes.opened.append(item)
        elif event == "vote_closed" and item.vote is not None and once("results", item.vote.id or 0):
            changes.results.append(item)
        elif event in OBJECTION_EVENTS:
            changes.objections.append(item)
        elif event in PROGRESS_EVENTS:
            changes.progress.append(item)
        elif event == "proposal_evaluated":
            changes.evaluations = [i for i in changes.evaluations if i.proposal.id != proposal.id] + [item]
    changes.closing = await _closing_soon(uow, subscription, where, head, now)
    return changes


async def _proposals(uow: UnitOfWork, where: Audience, ids: set[int]) -> dict[int, Proposal]:
    if not ids:
        return {}
    rows = await uow.session.execute(
        select(Proposal).where(col(Proposal.id).in_(ids), col(Proposal.community_id) == where.community_id))
    return {p.id: p for p in rows.scalars() if p.id is not None and where.scope.overlaps(Scope.parse(p.scope))}


async def _supports(uow: UnitOfWork, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = await uow.session.execute(
        select(col(Support.proposal_id), func.count(col(Support.id)))
        .where(col(Support.proposal_id).in_(ids)).group_by(col(Support.proposal_id)))
    return {int(pid): int(n) for pid, n in rows}


async def _votes(uow: UnitOfWork, ids: list[object]) -> dict[int, Vote]:
    wanted = {int(i) for i in ids if isinstance(i, int)}
    if not wanted:
        return {}
    rows = await uow.session.execute(select(Vote).where(col(Vote.id).in_(wanted)))
    return {v.id: v for v in rows.scalars() if v.id is not None}


async def _closing_soon(
    uow: UnitOfWork, subscription: DigestSubscription, where: Audience, head: int, now: datetime
) -> list[Item]:
    found = (
        await uow.session.execute(
            select(Vote, Proposal)
            .join(Proposal, col(Proposal.id) == col(Vote.proposal_id))
            .where(col(Proposal.community_id) == where.community_id, col(Vote.status) == "open",
                   col(Vote.closes_at) > now, col(Vote.closes_at) <= now + CLOSING_SOON)
            .order_by(col(Vote.closes_at), col(Vote.id))
        )
    ).all()
    rows = [(v, p) for v, p in found if where.scope.overlaps(Scope.parse(v.scope))]
    if not rows:
        return []
    balloted = set(
        (
            await uow.session.execute(
                select(col(LedgerEntry.subject)).distinct()
                .where(col(LedgerEntry.seq) > subscription.last_seq, col(LedgerEntry.seq) <= head,
                       col(LedgerEntry.event).in_(BALLOT_EVENTS),
                       col(LedgerEntry.subject).in_([f"vote:{v.id}" for v, _p in rows]))
            )
        ).scalars()
    )
    last = subscription.last_sent_at
    counts = await _supports(uow, [p.id for _v, p in rows if p.id is not None])
    return [
        Item(p, counts.get(p.id or 0, 0), v)
        for v, p in rows
        if last is None or v.closes_at - CLOSING_SOON > last or f"vote:{v.id}" in balloted
    ]


async def private_digest_members(uow: UnitOfWork, community_id: int) -> set[int]:
    """Members with a private digest of this community (the council's monthly request rates ride in it)."""
    rows = await uow.session.execute(select(col(DigestSubscription.member_id)).where(
        col(DigestSubscription.community_id) == community_id, col(DigestSubscription.member_id).is_not(None)))
    return {int(m) for m in rows.scalars() if m is not None}
