"""Chat rooms in storage (a repository): handlers, jobs and the outbox reach rooms through these."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel import col

from bot.storage.models import BallotPost, ChatRoom
from bot.storage.uow import UnitOfWork


async def follow_migration(uow: UnitOfWork, platform: str, old_chat_id: str, new_chat_id: str) -> bool:
    """A group became a supergroup with a new id: its room follows (False if it was not bound, or moved already)."""
    room = (
        await uow.session.execute(
            select(ChatRoom).where(col(ChatRoom.platform) == platform, col(ChatRoom.chat_id) == old_chat_id)
        )
    ).scalar_one_or_none()
    if room is None:
        return False
    room.chat_id = new_chat_id
    await uow.ledger.append("room_migrated", f"room:{room.id}", {"from": old_chat_id, "to": new_chat_id})
    return True


async def rooms_with_scope(uow: UnitOfWork, scope: str) -> list[ChatRoom]:
    """Bound rooms of exactly this scope (e.g. every community's "all" room)."""
    return list((await uow.session.execute(select(ChatRoom).where(col(ChatRoom.scope) == scope))).scalars())


async def ballot_posts(uow: UnitOfWork, vote_id: int) -> list[BallotPost]:
    """Every ballot message posted for a vote, in any chat."""
    return list((await uow.session.execute(select(BallotPost).where(col(BallotPost.vote_id) == vote_id))).scalars())


async def room_languages(uow: UnitOfWork, platform: str, chat_ids: Iterable[str], default: str) -> dict[str, str]:
    """The language of each bound room among ``chat_ids`` (its own, else ``default``): a live message in a
    room renders in the room's current language, whatever it was posted in; a private one keeps its own."""
    wanted = sorted(set(chat_ids))
    if not wanted:
        return {}
    rows = await uow.session.execute(select(col(ChatRoom.chat_id), col(ChatRoom.locale)).where(
        col(ChatRoom.platform) == platform, col(ChatRoom.chat_id).in_(wanted)))
    return {chat_id: locale or default for chat_id, locale in rows}


async def room_of(uow: UnitOfWork, platform: str, chat_id: str) -> ChatRoom | None:
    """The room bound to this chat, if any."""
    query = select(ChatRoom).where(col(ChatRoom.platform) == platform, col(ChatRoom.chat_id) == chat_id)
    return (await uow.session.execute(query)).scalar_one_or_none()


async def bound_chat_ids(uow: UnitOfWork) -> set[str]:
    """The chat ids of every bound room, on any platform."""
    return set((await uow.session.execute(select(col(ChatRoom.chat_id)))).scalars())
