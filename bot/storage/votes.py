"""Votes, ballots and ballot messages in storage (a repository)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlmodel import col

from bot.storage.models import Ballot, BallotPost, Member, Proposal, RollEntry, Vote
from bot.storage.uow import UnitOfWork


async def by_id(uow: UnitOfWork, vote_id: int) -> Vote | None:
    return await uow.session.get(Vote, vote_id)


async def own_ballot(uow: UnitOfWork, vote_id: int, platform: str, external_id: str) -> Ballot | None:
    """A ballot this chat identity cast itself in the vote (not one entered for it on paper)."""
    query = (
        select(Ballot)
        .join(Member, col(Member.id) == col(Ballot.cast_by_member_id))
        .where(col(Ballot.vote_id) == vote_id, col(Ballot.source) == "self", col(Member.platform) == platform,
               col(Member.external_id) == external_id)
        .limit(1)
    )
    return (await uow.session.execute(query)).scalar_one_or_none()


async def posts(uow: UnitOfWork, vote_ids: list[int], platform: str) -> list[BallotPost]:
    """The ballot messages of these votes on this platform, in posting order."""
    query = (
        select(BallotPost)
        .where(col(BallotPost.vote_id).in_(vote_ids), col(BallotPost.platform) == platform)
        .order_by(col(BallotPost.id))
    )
    return list((await uow.session.execute(query)).scalars())


async def is_ballot_message(uow: UnitOfWork, platform: str, chat_id: str, message_id: str) -> bool:
    query = select(col(BallotPost.id)).where(col(BallotPost.platform) == platform, col(BallotPost.chat_id) == chat_id,
                                        col(BallotPost.message_id) == message_id)
    return (await uow.session.execute(query)).first() is not None


async def add_post(uow: UnitOfWork, vote_id: int, platform: str, chat_id: str, message_id: str, locale: str,
                   posted_at: datetime) -> bool:
    """Record a posted ballot message (one per vote and chat); True if it was new."""
    return await uow.insert_ignore(
        BallotPost,
        {"vote_id": vote_id, "platform": platform, "chat_id": chat_id, "message_id": message_id, "locale": locale,
         "posted_at": posted_at},
        ("vote_id", "platform", "chat_id"),
    )


async def with_posts_current(uow: UnitOfWork, since: datetime) -> list[int]:
    """Votes with a ballot message that are open or closed since ``since``."""
    query = (
        select(col(Vote.id))
        .where(
            col(Vote.id).in_(select(col(BallotPost.vote_id))),
            or_(col(Vote.status) == "open", col(Vote.closed_at) >= since),
        )
        .order_by(col(Vote.id))
    )
    return [i for i in (await uow.session.execute(query)).scalars() if i is not None]


async def open_votes(uow: UnitOfWork, *, closing_after: datetime | None = None) -> list[Vote]:
    """Every open vote (only those closing after ``closing_after``, if given)."""
    query = select(Vote).where(col(Vote.status) == "open")
    if closing_after is not None:
        query = query.where(col(Vote.closes_at) > closing_after)
    return list((await uow.session.execute(query)).scalars())


async def mark_reminded(uow: UnitOfWork, vote_id: int, stage: int) -> bool:
    """Raise an open vote's reminder stage to ``stage``; False if it is closed or that stage was taken.

    The guard decides: a second run (restart, second process) finds the stage taken.
    """
    done = await uow.session.execute(
        update(Vote)
        .where(col(Vote.id) == vote_id, col(Vote.status) == "open", col(Vote.reminder_stage) < stage)
        .values(reminder_stage=stage)
    )
    return bool(getattr(done, "rowcount", 0))


async def open_in(uow: UnitOfWork, community_ids: set[int], now: datetime) -> list[tuple[Vote, Proposal]]:
    """Votes of these communities still open at ``now``, with their matters, the soonest to close first."""
    query = (
        select(Vote, Proposal)
        .join(Proposal, col(Proposal.id) == col(Vote.proposal_id))
        .where(col(Vote.status) == "open", col(Vote.closes_at) > now, col(Proposal.community_id).in_(community_ids))
        .order_by(col(Vote.closes_at))
    )
    return [(vote, proposal) for vote, proposal in await uow.session.execute(query)]


async def missing_ballots(uow: UnitOfWork, vote_ids: list[int]) -> dict[int, set[str]]:
    """The elector keys on each vote's roll that have no ballot yet."""
    query = (
        select(col(RollEntry.vote_id), col(RollEntry.elector_key))
        .outerjoin(Ballot, and_(col(Ballot.vote_id) == col(RollEntry.vote_id),
                                col(Ballot.elector_key) == col(RollEntry.elector_key)))
        .where(col(RollEntry.vote_id).in_(vote_ids), col(Ballot.id).is_(None))
    )
    missing: dict[int, set[str]] = defaultdict(set)
    for vote_id, key in await uow.session.execute(query):
        missing[vote_id].add(key)
    return missing
