"""Proposals and their cards in storage (a repository)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlmodel import col

from bot.deliberation.proposal import ProposalState
from bot.storage.models import Proposal, ProposalCard
from bot.storage.uow import UnitOfWork


async def by_id(uow: UnitOfWork, proposal_id: int) -> Proposal | None:
    return await uow.session.get(Proposal, proposal_id)


async def in_review(uow: UnitOfWork, community_id: int, limit: int) -> list[Proposal]:
    """The community's matters waiting for the council's review, oldest first."""
    query = (
        select(Proposal)
        .where(col(Proposal.community_id) == community_id, col(Proposal.state) == "review")
        .order_by(col(Proposal.id))
        .limit(limit)
    )
    return list((await uow.session.execute(query)).scalars())


async def card_posts(uow: UnitOfWork, proposal_ids: list[int], platform: str) -> list[ProposalCard]:
    """Where cards of these matters were posted on this platform, in posting order."""
    query = (
        select(ProposalCard)
        .where(col(ProposalCard.proposal_id).in_(proposal_ids), col(ProposalCard.platform) == platform)
        .order_by(col(ProposalCard.id))
    )
    return list((await uow.session.execute(query)).scalars())


async def with_cards_changed(uow: UnitOfWork, since: datetime) -> list[int]:
    """Matters with a posted card that still collect co-signatures, wait for review, or changed since ``since``."""
    query = (
        select(col(Proposal.id))
        .where(
            col(Proposal.id).in_(select(col(ProposalCard.proposal_id))),
            or_(col(Proposal.state).in_(("collecting", "review")), col(Proposal.state_changed_at) >= since),
        )
        .order_by(col(Proposal.id))
    )
    return [i for i in (await uow.session.execute(query)).scalars() if i is not None]


async def add_card(uow: UnitOfWork, proposal_id: int, platform: str, chat_id: str, message_id: str, locale: str,
                   posted_at: datetime) -> bool:
    """Record a posted card (once per message); True if it was new."""
    return await uow.insert_ignore(
        ProposalCard,
        {"proposal_id": proposal_id, "platform": platform, "chat_id": chat_id, "message_id": message_id,
         "locale": locale, "posted_at": posted_at},
        ("platform", "chat_id", "message_id"),
    )


async def collecting_until(uow: UnitOfWork) -> list[tuple[int, datetime]]:
    """Each matter still collecting co-signatures, with the end of its window."""
    query = select(col(Proposal.id), col(Proposal.collecting_until)).where(
        col(Proposal.state) == str(ProposalState.COLLECTING))
    return [(int(i), until) for i, until in await uow.session.execute(query) if i is not None]


async def objection_until(uow: UnitOfWork) -> list[tuple[int, datetime]]:
    """Each matter in an objection period, with the end of the period."""
    query = select(col(Proposal.id), col(Proposal.objection_until)).where(
        col(Proposal.state) == str(ProposalState.OBJECTION), col(Proposal.objection_until).is_not(None))
    return [(int(i), until) for i, until in await uow.session.execute(query) if i is not None and until is not None]
