"""Chat rooms in storage: what the outbox and the services both need."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import ChatRoom
from bot.storage.uow import UnitOfWork


async def follow_migration(uow: UnitOfWork, platform: str, old_chat_id: str, new_chat_id: str) -> bool:
    """A group became a supergroup with a new id: its room follows (False if it was not bound, or moved already)."""
    room = (
        await uow.session.execute(
            select(ChatRoom).where(ChatRoom.platform == platform, ChatRoom.chat_id == old_chat_id)
        )
    ).scalar_one_or_none()
    if room is None:
        return False
    room.chat_id = new_chat_id
    await uow.ledger.append("room_migrated", f"room:{room.id}", {"from": old_chat_id, "to": new_chat_id})
    return True
