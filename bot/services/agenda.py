"""The agenda, bottom-up: propose, co-sign, review (accept, decline, merge), withdraw, expire."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import func, select
from sqlmodel import col

from bot.deliberation.errors import IllegalTransition, InvalidInput, NotEligible, NotFound
from bot.deliberation.mandate import Power
from bot.deliberation.proposal import OPEN_STATES, Category, ProposalAction, ProposalState, transition, withdraw
from bot.deliberation.scope import Scope, ScopeLevel
from bot.deliberation.similarity import similar
from bot.deliberation.text import clean_text, optional_text, require_text
from bot.deliberation.thresholds import SupportPolicy, required_supports
from bot.services import directory, meetings
from bot.services.directory import Actor
from bot.services.meetings import Notices
from bot.storage.models import Community, Proposal, Support, utcnow
from bot.storage.uow import Database, UnitOfWork

TITLE_MAX = 200
BODY_MAX = 3500
OPEN_FOR_SUPPORT = (ProposalState.COLLECTING, ProposalState.REVIEW, ProposalState.AGENDA)


def support_policy(community: Community) -> SupportPolicy:
    if community.support_fixed is not None:
        return SupportPolicy(fixed=community.support_fixed)
    return SupportPolicy(share=Fraction(community.support_share_num, community.support_share_den),
                         minimum=community.support_minimum)


@dataclass(frozen=True, slots=True)
class Submission:
    """A new proposal, or (when ``proposal`` is None) the similar open ones to offer first."""

    proposal: Proposal | None
    similar: list[tuple[Proposal, float]] = field(default_factory=list)
    supports: int = 0


async def _proposal(uow: UnitOfWork, proposal_id: int, *, lock: bool = False) -> Proposal:
    return await uow.get(Proposal, proposal_id, what="proposal", lock=lock)


async def supports_count(uow: UnitOfWork, proposal_id: int) -> int:
    query = select(func.count()).select_from(Support).where(col(Support.proposal_id) == proposal_id)
    return int((await uow.session.execute(query)).scalar_one())


async def _similar_open(
    uow: UnitOfWork, community_id: int, scope: Scope, title: str, body: str
) -> list[tuple[Proposal, float]]:
    candidates = (
        await uow.session.execute(
            select(Proposal).where(
                col(Proposal.community_id) == community_id,
                col(Proposal.scope) == str(scope),
                col(Proposal.state).in_([str(s) for s in OPEN_FOR_SUPPORT]),
            )
        )
    ).scalars().all()
    by_id = {p.id: p for p in candidates if p.id is not None}
    # Titles alone and whole texts: a long body in other words must not hide a duplicate title.
    best: dict[int, float] = {}
    for query, part in ((title, "title"), (f"{title}\n{body}", "full")):
        texts = ((pid, p.title if part == "title" else f"{p.title}\n{p.body}") for pid, p in by_id.items())
        for pid, score in similar(query, texts, limit=len(by_id) or 1):
            best[pid] = max(score, best.get(pid, 0.0))
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:3]
    return [(by_id[pid], score) for pid, score in ranked]


def _move(proposal: Proposal, action: ProposalAction, now: datetime) -> str:
    before = proposal.state
    proposal.state = str(transition(ProposalState(proposal.state), action))
    proposal.state_changed_at = now
    return before


async def propose(
    db: Database,
    community_id: int,
    actor: Actor,
    title: str,
    body: str = "",
    *,
    scope: str = "all",
    category: str = "other",
    force: bool = False,
    now: datetime | None = None,
) -> Submission:
    """Submit a matter. Unless ``force``, similar open matters in the scope are returned instead."""
    now = now or utcnow()
    title = require_text(title, field="title", max_length=TITLE_MAX)
    body = clean_text(body, multiline=True)
    if len(body) > BODY_MAX:
        raise InvalidInput("body too long", field="body", max=BODY_MAX)
    try:
        kind = Category(category)
    except ValueError:
        raise InvalidInput(f"unknown category {category!r}", field="category", value=category) from None
    where = Scope.parse(scope)
    if kind is Category.ELEVATOR and where.level is not ScopeLevel.UNIT:
        # The owners of the building unit decide an elevator (Art. 278 items 6-8, by unit).
        raise InvalidInput("an elevator is proposed for one building unit, e.g. 3-2", field="scope",
                           reason="elevator_needs_unit")
    async with db.uow() as uow:
        community = await directory.community_by_id(uow, community_id)
        households = await directory.households_in_scope(uow, community_id, where)
        if households == 0:
            raise NotFound(f"no homes in scope {where}", what="scope", name=str(where))
        member = await directory.member_of(uow, actor)
        assert member.id is not None
        links = await directory.verified_links(uow, member.id, community_id, where)
        key = directory.household_key(links)
        if key is None:
            raise NotEligible("register a home in this scope first", reason="not_registered_in_scope",
                              scope=str(where))
        if not force:
            found = await _similar_open(uow, community_id, where, title, body)
            if found:
                return Submission(None, found)
        threshold = required_supports(support_policy(community), households)
        proposal = Proposal(
            community_id=community_id, author_member_id=member.id, title=title, body=body, category=str(kind),
            scope=str(where), support_threshold=threshold, households_in_scope=households, created_at=now,
            collecting_until=now + timedelta(days=community.collecting_days), state_changed_at=now,
        )
        uow.session.add(proposal)
        await uow.session.flush()
        assert proposal.id is not None
        # The author supports implicitly.
        uow.session.add(Support(proposal_id=proposal.id, household_key=key, member_id=member.id, created_at=now))
        await uow.ledger.append(
            "proposal_submitted", f"proposal:{proposal.id}",
            {"author": member.id, "title": title, "body": body, "category": str(kind), "scope": str(where),
             "threshold": threshold, "households": households, "household": key},
            at=now,
        )
        supports = 1
        if supports >= threshold:
            _move(proposal, ProposalAction.REACH_THRESHOLD, now)
            await uow.ledger.append("threshold_reached", f"proposal:{proposal.id}", {"supports": supports}, at=now)
        return Submission(proposal, [], supports)


@dataclass(frozen=True, slots=True)
class SupportOutcome:
    proposal: Proposal
    added: bool  # False: this household had already co-signed; nothing changed
    supports: int
    reached: bool  # this support carried the proposal over its threshold


async def support(
    db: Database, proposal_id: int, actor: Actor, now: datetime | None = None,
    *, on_reached: Callable[[UnitOfWork, Proposal, datetime], Awaitable[None]] | None = None,
) -> SupportOutcome:
    # Co-signing is 附议.
    """Co-sign: one support per owner or resident household in the proposal's scope.

    ``on_reached`` runs in the same transaction when this support carries the matter over its threshold
    (the council is told that a review waits: told if and only if it happened)."""
    now = now or utcnow()
    async with db.uow() as uow:
        proposal = await _proposal(uow, proposal_id, lock=True)
        state = ProposalState(proposal.state)
        if state is ProposalState.COLLECTING and now >= proposal.collecting_until:
            raise IllegalTransition("expired", "support")
        member = await directory.member_of(uow, actor)
        links = await directory.verified_links(uow, member.id or 0, proposal.community_id,
                                               Scope.parse(proposal.scope))
        key = directory.household_key(links)
        if key is None:
            raise NotEligible("only households in the scope co-sign", reason="not_registered_in_scope",
                              scope=proposal.scope)
        if state is not ProposalState.COLLECTING:
            already = await uow.session.execute(
                select(col(Support.id)).where(col(Support.proposal_id) == proposal_id,
                                              col(Support.household_key) == key))
            if already.first() is not None:
                return SupportOutcome(proposal, False, await supports_count(uow, proposal_id), False)
            raise IllegalTransition(str(state), "support")
        added = await uow.insert_ignore(
            Support, {"proposal_id": proposal_id, "household_key": key, "member_id": member.id, "created_at": now},
            ("proposal_id", "household_key"),
        )
        count = await supports_count(uow, proposal_id)
        reached = False
        if added:
            await uow.ledger.append("support_added", f"proposal:{proposal_id}",
                                    {"member": member.id, "household": key, "supports": count}, at=now)
            if count >= proposal.support_threshold:
                _move(proposal, ProposalAction.REACH_THRESHOLD, now)
                reached = True
                await uow.ledger.append("threshold_reached", f"proposal:{proposal_id}", {"supports": count}, at=now)
                if on_reached is not None:
                    await on_reached(uow, proposal, now)
        return SupportOutcome(proposal, added, count, reached)


async def accept(
    db: Database, proposal_id: int, actor: Actor, now: datetime | None = None, *, notices: Notices | None = None
) -> Proposal:
    """Put a reviewed matter on the agenda, and on the next council meeting if one is scheduled.

    With ``notices`` the proposer is told the meeting in the same transaction; else a job does it.
    """
    now = now or utcnow()
    async with db.uow() as uow:
        proposal = await _proposal(uow, proposal_id, lock=True)
        moderator = await directory.require_moderator(uow, actor, proposal.community_id, power=Power.REVIEW)
        before = _move(proposal, ProposalAction.ACCEPT, now)
        await uow.ledger.append("proposal_accepted", f"proposal:{proposal_id}",
                                {"by": moderator.id, "from": before}, at=now)
        await meetings.place_accepted(uow, proposal, now, notices)
        return proposal


async def decline(db: Database, proposal_id: int, actor: Actor, reason: str, now: datetime | None = None) -> Proposal:
    """Decline with a public reason (the reason is required and published)."""
    now = now or utcnow()
    reason = require_text(reason, field="reason", max_length=1000, multiline=True)
    async with db.uow() as uow:
        proposal = await _proposal(uow, proposal_id, lock=True)
        moderator = await directory.require_moderator(uow, actor, proposal.community_id, power=Power.REVIEW)
        before = _move(proposal, ProposalAction.DECLINE, now)
        proposal.reason = reason
        await uow.ledger.append("proposal_declined", f"proposal:{proposal_id}",
                                {"by": moderator.id, "from": before, "reason": reason}, at=now)
        return proposal


async def merge(
    db: Database, proposal_id: int, into_id: int, actor: Actor, reason: str = "", now: datetime | None = None
) -> Proposal:
    """Merge a duplicate into another open matter; its co-signatures carry over."""
    now = now or utcnow()
    if proposal_id == into_id:
        raise InvalidInput("cannot merge a proposal into itself", field="into")
    async with db.uow() as uow:
        proposal = await _proposal(uow, proposal_id, lock=True)
        target = await _proposal(uow, into_id, lock=True)
        moderator = await directory.require_moderator(uow, actor, proposal.community_id, power=Power.REVIEW)
        if target.community_id != proposal.community_id or ProposalState(target.state) not in OPEN_FOR_SUPPORT:
            raise IllegalTransition(target.state, "merge_into")
        before = _move(proposal, ProposalAction.MERGE, now)
        proposal.merged_into_id = into_id
        proposal.reason = optional_text(reason, max_length=1000, multiline=True) or None
        supporters = await uow.session.execute(
            select(col(Support.household_key), col(Support.member_id)).where(col(Support.proposal_id) == proposal_id))
        carried = 0
        for key, member_id in supporters:
            carried += await uow.insert_ignore(
                Support, {"proposal_id": into_id, "household_key": key, "member_id": member_id, "created_at": now},
                ("proposal_id", "household_key"))
        count = await supports_count(uow, into_id)
        await uow.ledger.append("proposal_merged", f"proposal:{proposal_id}",
                                {"by": moderator.id, "from": before, "into": into_id, "reason": proposal.reason,
                                 "supports_carried": carried}, at=now)
        if ProposalState(target.state) is ProposalState.COLLECTING and count >= target.support_threshold:
            _move(target, ProposalAction.REACH_THRESHOLD, now)
            await uow.ledger.append("threshold_reached", f"proposal:{into_id}", {"supports": count}, at=now)
        return proposal


async def withdraw_proposal(db: Database, proposal_id: int, actor: Actor, now: datetime | None = None) -> Proposal:
    now = now or utcnow()
    async with db.uow() as uow:
        proposal = await _proposal(uow, proposal_id, lock=True)
        member = await directory.member_of(uow, actor)
        before = proposal.state
        proposal.state = str(withdraw(ProposalState(proposal.state), actor=str(member.id),
                                      author=str(proposal.author_member_id)))
        proposal.state_changed_at = now
        await uow.ledger.append("proposal_withdrawn", f"proposal:{proposal_id}", {"from": before}, at=now)
        return proposal


async def expire_due(db: Database, now: datetime | None = None) -> list[int]:
    """Close the collecting window of every proposal past it; returns their ids."""
    async with db.uow() as uow:
        return [p.id for p in await expire_due_in(uow, now or utcnow()) if p.id is not None]


async def expire_due_in(uow: UnitOfWork, now: datetime) -> list[Proposal]:
    """``expire_due`` inside the caller's unit of work (a notice is queued in the same transaction)."""
    due = (
        await uow.session.execute(
            select(Proposal).where(col(Proposal.state) == str(ProposalState.COLLECTING),
                                   col(Proposal.collecting_until) <= now).with_for_update()
        )
    ).scalars().all()
    for proposal in due:
        _move(proposal, ProposalAction.EXPIRE, now)
        await uow.ledger.append("proposal_expired", f"proposal:{proposal.id}",
                                {"supports": await supports_count(uow, proposal.id or 0),
                                 "threshold": proposal.support_threshold}, at=now)
    return list(due)


async def get_proposal(db: Database, proposal_id: int) -> tuple[Proposal, int]:
    async with db.uow(readonly=True) as uow:
        proposal = await _proposal(uow, proposal_id)
        return proposal, await supports_count(uow, proposal_id)


async def open_proposals(db: Database, community_id: int, scope: str | None = None) -> list[tuple[Proposal, int]]:
    """Matters not yet settled, newest first, with their co-signature counts."""
    async with db.uow(readonly=True) as uow:
        query = select(Proposal, func.count(col(Support.id))).outerjoin(
            Support, col(Support.proposal_id) == col(Proposal.id)
        ).where(col(Proposal.community_id) == community_id,
                col(Proposal.state).in_([str(s) for s in OPEN_STATES]))
        if scope is not None:
            query = query.where(col(Proposal.scope) == scope)
        rows = await uow.session.execute(query.group_by(col(Proposal.id)).order_by(col(Proposal.id).desc()))
        return [(proposal, int(count)) for proposal, count in rows]
