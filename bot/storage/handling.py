"""Which update the current task is handling, so its first ledger write also marks it handled.

A command's state change and the mark "update handled" then commit in one transaction: after a
crash the command is neither lost nor done twice (only its reply may be missing). Set by the
handlers around one update; read by the ledger on append.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.storage.models import InboxUpdate, utcnow


@dataclass
class _Handling:
    bot: str
    update_id: int
    claimer: str
    open: bool = True  # False once marked, or once the handler is done (tasks it spawned copy the var)


_current: ContextVar[_Handling | None] = ContextVar("inbox_handling", default=None)


@contextlib.contextmanager
def handling(bot: str, update_id: int, claimer: str) -> Iterator[None]:
    current = _Handling(bot, update_id, claimer)
    token = _current.set(current)
    try:
        yield
    finally:
        current.open = False
        _current.reset(token)


async def mark_handled_in(session: AsyncSession) -> None:
    """In the caller's transaction: the update being handled is handled (once per update)."""
    current = _current.get()
    if current is None or not current.open:
        return
    current.open = False
    now = utcnow()
    await session.execute(
        update(InboxUpdate)
        .where(col(InboxUpdate.bot) == current.bot, col(InboxUpdate.update_id) == current.update_id,
               col(InboxUpdate.claimed_by) == current.claimer, col(InboxUpdate.handled_at).is_(None))
        .values(handled_at=now, answered_at=now)
    )
