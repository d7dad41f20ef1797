"""Processed updates in storage (a repository): what the inbox received (its claims are bot/storage/inbox.py)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from bot.storage.models import InboxUpdate
from bot.storage.uow import UnitOfWork


async def last_update_id(uow: UnitOfWork) -> int:
    """The highest update id ever stored (0 for none): a fresh fake Bot API continues after it."""
    return int((await uow.session.execute(select(func.max(col(InboxUpdate.update_id))))).scalar() or 0)
