# 既有住宅加装电梯: adding elevators to existing homes.
"""Elevator matters: objections and their period, and cost sharing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import select
from sqlmodel import col

from bot.deliberation.cost import GUANGZHOU_COEFFICIENTS, FloorCoefficients, share_costs
from bot.deliberation.cost import Home as CostHome
from bot.deliberation.errors import IllegalTransition, InvalidInput, NotFound
from bot.deliberation.mandate import Power
from bot.deliberation.numbers import format_hundredths
from bot.deliberation.proposal import Category, ProposalAction, ProposalState, transition
from bot.deliberation.scope import Scope
from bot.deliberation.text import optional_text
from bot.services import directory
from bot.services.directory import Actor
from bot.storage.models import Objection, Proposal, utcnow
from bot.storage.uow import Database, UnitOfWork

OBJECTION_REASONS = ("light", "noise", "access", "cost", "other")
OBJECTION_STATUSES = ("open", "mediating", "resolved", "escalated")
BLOCKING = ("open", "mediating")


async def _elevator(uow: UnitOfWork, proposal_id: int) -> Proposal:
    proposal = await uow.get(Proposal, proposal_id, what="proposal", lock=True)
    if Category(proposal.category) is not Category.ELEVATOR:
        raise InvalidInput("objections are recorded for elevator matters", field="proposal",
                           reason="not_elevator")
    return proposal


def _in_objection_window(proposal: Proposal, now: datetime) -> bool:
    state = ProposalState(proposal.state)
    if state is ProposalState.VOTING:
        return True
    return state is ProposalState.OBJECTION and proposal.objection_until is not None and now < proposal.objection_until


async def record_objection(
    db: Database, proposal_id: int, actor: Actor, home_label: str, reason: str, detail: str = "",
    now: datetime | None = None,
) -> Objection:
    """A moderator records an owner's objection (during the vote or the objection period)."""
    now = now or utcnow()
    if reason not in OBJECTION_REASONS:
        raise InvalidInput("reason is light, noise, access, cost or other", field="reason",
                           choices=",".join(OBJECTION_REASONS))
    async with db.uow() as uow:
        proposal = await _elevator(uow, proposal_id)
        moderator = await directory.require_moderator(uow, actor, proposal.community_id, power=Power.OBJECTIONS)
        if not _in_objection_window(proposal, now):
            raise IllegalTransition(proposal.state, "record_objection")
        home = await directory.home_by_label(uow, proposal.community_id, home_label)
        await directory.refuse_own_home(uow, moderator.id or 0, home.id, home.owner_id)
        objection = Objection(proposal_id=proposal_id, owner_id=home.owner_id, floor=home.floor, reason=reason,
                              detail=optional_text(detail, max_length=2000, multiline=True),
                              recorded_by_member_id=moderator.id, created_at=now,
                              updated_at=now)
        uow.session.add(objection)
        await uow.session.flush()
        await uow.ledger.append("objection_recorded", f"proposal:{proposal_id}",
                                {"objection": objection.id, "home": home.label, "owner": home.owner_id,
                                 "floor": home.floor, "reason": reason, "detail": objection.detail,
                                 "by": moderator.id}, at=now)
        return objection


async def update_objection(
    db: Database, objection_id: int, actor: Actor, status: str, note: str = "", now: datetime | None = None
) -> Objection:
    now = now or utcnow()
    if status not in OBJECTION_STATUSES:
        raise InvalidInput("status is open, mediating, resolved or escalated", field="status",
                           choices=",".join(OBJECTION_STATUSES))
    async with db.uow() as uow:
        objection = await uow.session.get(Objection, objection_id)
        if objection is None:
            raise NotFound(f"no objection #{objection_id}", what="objection", id=objection_id)
        proposal = await _elevator(uow, objection.proposal_id)
        moderator = await directory.require_moderator(uow, actor, proposal.community_id, power=Power.OBJECTIONS)
        await directory.refuse_own_home(uow, moderator.id or 0, owner_id=objection.owner_id)
        if ProposalState(proposal.state) not in (ProposalState.VOTING, ProposalState.OBJECTION):
            raise IllegalTransition(proposal.state, "update_objection")
        before = objection.status
        objection.status, objection.updated_at = status, now
        await uow.ledger.append("objection_updated", f"proposal:{proposal.id}",
                                {"objection": objection_id, "from": before, "to": status,
                                 "note": optional_text(note, max_length=1000, multiline=True),
                                 "by": moderator.id}, at=now)
        return objection


async def objections(db: Database, proposal_id: int, actor: Actor) -> list[Objection]:
    """The objections to an elevator matter, for its community's council only (they name floors and owners)."""
    async with db.uow() as uow:
        proposal = await uow.get(Proposal, proposal_id, what="proposal")
        await directory.require_moderator(uow, actor, proposal.community_id, power=Power.OBJECTIONS)
        query = select(Objection).where(col(Objection.proposal_id) == proposal_id).order_by(col(Objection.id))
        return list((await uow.session.execute(query)).scalars())


@dataclass(frozen=True, slots=True)
class Settled:
    proposal: Proposal
    blocking: int  # objections left open or mediating at the end of the period


async def settle_objection_period(db: Database, proposal_id: int, now: datetime | None = None) -> Settled:
    """At the end of the period: adopted if no objection is open or mediating, else rejected.

    Beijing, Chengdu and Jinan require remaining objections to be resolved before work starts.
    """
    async with db.uow() as uow:
        return await settle_in(uow, proposal_id, now or utcnow())


async def settle_in(uow: UnitOfWork, proposal_id: int, now: datetime) -> Settled:
    """``settle_objection_period`` inside the caller's unit of work."""
    proposal = await _elevator(uow, proposal_id)
    if ProposalState(proposal.state) is not ProposalState.OBJECTION:
        raise IllegalTransition(proposal.state, "settle_objections")
    if proposal.objection_until is None or now < proposal.objection_until:
        raise IllegalTransition("objection_period_running", "settle_objections")
    rows = await uow.session.execute(
        select(col(Objection.id)).where(col(Objection.proposal_id) == proposal_id,
                                   col(Objection.status).in_(BLOCKING)))
    blocking = len(rows.all())
    action = ProposalAction.OBJECTIONS_BLOCKING if blocking else ProposalAction.OBJECTIONS_CLEARED
    proposal.state = str(transition(ProposalState.OBJECTION, action))
    proposal.state_changed_at = now
    await uow.ledger.append("objection_period_ended", f"proposal:{proposal_id}",
                            {"blocking": blocking, "proposal_state": proposal.state}, at=now)
    return Settled(proposal, blocking)


async def objection_periods_due(db: Database, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(col(Proposal.id)).where(col(Proposal.state) == str(ProposalState.OBJECTION),
                                      col(Proposal.objection_until) <= now))
        return [pid for pid in rows.scalars() if pid is not None]


# --- cost sharing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Share:
    home: str
    floor: int
    area_m2: str
    coefficient: Fraction
    fen: int


def coefficients_from(text: str | None) -> FloorCoefficients:
    """``None`` -> Guangzhou reference; ``area`` -> by area alone; ``0,0.5,1,1.1,1.2,1.3`` -> floors 1..n."""
    if text is None or text == "guangzhou":
        return GUANGZHOU_COEFFICIENTS
    if text == "area":
        return FloorCoefficients(table=(Fraction(1),))
    try:
        table = tuple(Fraction(part.strip()) for part in text.split(","))
    except (ValueError, ZeroDivisionError):
        raise InvalidInput("coefficients: numbers separated by commas, floor 1 first", field="coefficients") from None
    if not table or any(c < 0 for c in table):
        raise InvalidInput("coefficients must not be negative", field="coefficients")
    return FloorCoefficients(table=table)


async def cost_shares(
    db: Database, community_id: int, scope: str, total_fen: int, subsidy_fen: int = 0,
    coefficients: FloorCoefficients | None = None,
) -> list[Share]:
    """Each home's share of an elevator: coefficient x area, in fen, summing exactly to the total."""
    rule = coefficients or GUANGZHOU_COEFFICIENTS
    async with db.uow() as uow:
        homes = await directory.homes(uow, community_id, Scope.parse(scope))
    if not homes:
        raise NotFound(f"no homes in {scope}", what="scope", name=scope)
    fen = share_costs([CostHome(h.label, h.floor, h.area_centi) for h in homes], total_fen, subsidy_fen, rule)
    return [Share(h.label, h.floor, format_hundredths(h.area_centi), rule(h.floor), fen[h.label])
            for h in homes]
