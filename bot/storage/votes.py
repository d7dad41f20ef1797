"""Votes, ballots and ballot messages in storage (a repository)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlmodel import col

from bot.storage.models import Ballot, BallotPost, Member, Vote
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
