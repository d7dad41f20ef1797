"""Group rooms bound to a scope of a community."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import col

from bot.deliberation.errors import NotFound
from bot.deliberation.mandate import Power
from bot.deliberation.scope import Scope
from bot.services import directory
from bot.services.directory import Actor
from bot.storage.models import ChatRoom, utcnow
from bot.storage.rooms import follow_migration as follow_migration  # re-exported
from bot.storage.uow import Database


@dataclass(frozen=True, slots=True)
class Bound:
    room_id: int
    community: str
    homes: int


async def bind_room(
    db: Database, platform: str, chat_id: str, title: str, community_id: int, scope: Scope, actor: Actor
) -> Bound:
    """Bind (or re-bind) a room: a council member of the community (and of the one it was bound to); logged.

    A group's admins cannot: anyone can create a group, and a room's scope decides who sees what.
    """
    async with db.uow() as uow:
        community = await directory.community_by_id(uow, community_id)
        member = await directory.require_moderator(uow, actor, community_id, power=Power.BIND_ROOM)
        homes = await directory.households_in_scope(uow, community_id, scope)
        if homes == 0:
            raise NotFound(f"no homes in {scope}", what="scope", name=str(scope))
        room = (
            await uow.session.execute(
                select(ChatRoom).where(col(ChatRoom.platform) == platform, col(ChatRoom.chat_id) == chat_id)
            )
        ).scalar_one_or_none()
        if room is not None and room.community_id != community_id:
            await directory.require_moderator(uow, actor, room.community_id, power=Power.BIND_ROOM)
        if room is None:
            room = ChatRoom(
                platform=platform, chat_id=chat_id, community_id=community_id, scope=str(scope), title=title[:255]
            )
            uow.session.add(room)
        else:
            room.community_id, room.scope, room.title, room.bound_at = community_id, str(scope), title[:255], utcnow()
        await uow.session.flush()
        await uow.ledger.append(
            "room_bound",
            f"room:{room.id}",
            {"chat": chat_id, "platform": platform, "scope": str(scope), "by": member.id},
        )
        assert room.id is not None
        return Bound(room.id, community.name, homes)


async def set_room_locale(db: Database, room_id: int, actor: Actor, locale: str) -> None:
    """The room's language (everything posted in it): a council member of its community; logged."""
    async with db.uow() as uow:
        room = await uow.get(ChatRoom, room_id, what="room", lock=True)
        member = await directory.require_moderator(uow, actor, room.community_id, power=Power.ROOM_LANGUAGE)
        if room.locale == locale:
            return
        room.locale = locale
        await uow.ledger.append("room_language", f"room:{room.id}", {"locale": locale, "by": member.id})
