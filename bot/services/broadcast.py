"""Posting one text in every bound room that sees a matter's scope, inside the caller's unit of work.

Shared by services (meetings), the announcements of results and deadlines, and the scheduler's jobs,
so every path posts in every room whose scope overlaps the matter's scope, once (each row carries a
dedupe key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlmodel import col

from bot.chat.port import Action
from bot.deliberation.scope import Scope
from bot.i18n import Text, Translator
from bot.storage.models import ChatRoom
from bot.storage.outbox import Priority, enqueue_text
from bot.storage.uow import UnitOfWork


async def rooms_for_scope(uow: UnitOfWork, community_id: int, scope: str) -> list[ChatRoom]:
    """Bound rooms of the community that see a matter of ``scope`` (all, the building, the unit)."""
    wanted = Scope.parse(scope)
    rooms = (
        await uow.session.execute(
            select(ChatRoom).where(col(ChatRoom.community_id) == community_id).order_by(col(ChatRoom.id))
        )
    ).scalars()
    return [room for room in rooms if Scope.parse(room.scope).overlaps(wanted)]


async def post_in_rooms(
    uow: UnitOfWork, i18n: Translator, community_id: int, scope: str, text: Text, key: str,
    *, skip_chat: tuple[str, str] | None = None,
    actions: Callable[[str], Sequence[Sequence[Action]]] | None = None,
) -> list[ChatRoom]:
    """Queue ``text`` in every room of the scope, each in the room's language; the rooms used."""
    rooms = [r for r in await rooms_for_scope(uow, community_id, scope) if (r.platform, r.chat_id) != skip_chat]
    for room in rooms:
        locale = room.locale or i18n.default_locale
        rendered = i18n.render(text, locale)
        await enqueue_text(
            uow, platform=room.platform, chat_id=room.chat_id, text=rendered,
            dedupe_key=f"{key}:{room.platform}:{room.chat_id}", priority=Priority.NOTICE,
            actions=actions(locale) if callable(actions) else (),
        )
    return rooms
