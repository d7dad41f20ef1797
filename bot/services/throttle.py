"""Attempt limits kept in the database, so every bot process counts the same attempts.

A fixed window starts with the first attempt of a key; once ``limit`` attempts were made in it,
the next is refused (``Throttled``, with when to try again) until the window is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlmodel import col

from bot.deliberation.errors import Throttled
from bot.storage.models import AttemptCounter, utcnow
from bot.storage.uow import Database


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    attempts: int
    window: timedelta


# A code has 8 characters from a 31-letter alphabet (about 8.5 x 10^11 codes): 5 tries a quarter hour per account
# makes guessing hopeless; a resident who mistypes waits a few minutes at worst.
CODE_PER_ACCOUNT = Limit("code", 5, timedelta(minutes=15))
# Requests by room go to the council's queue: a few a day per account and per home are plenty.
REQUEST_PER_ACCOUNT = Limit("request", 5, timedelta(days=1))
REQUEST_PER_HOME = Limit("request-home", 3, timedelta(days=1))


async def take(db: Database, limit: Limit, subject: str, now: datetime | None = None) -> None:
    """Count one attempt on ``subject`` (its own transaction: a refused attempt still counts), or refuse."""
    now = now or utcnow()
    key = f"{limit.name}:{subject}"[:100]
    async with db.uow() as uow:
        await uow.insert_ignore(AttemptCounter, {"key": key, "window_started_at": now, "attempts": 0}, ("key",))
        row = (
            await uow.session.execute(select(AttemptCounter).where(col(AttemptCounter.key) == key).with_for_update())
        ).scalar_one()
        if row.window_started_at + limit.window <= now:
            row.window_started_at, row.attempts = now, 0
        if row.attempts >= limit.attempts:
            raise Throttled("too many attempts", retry_at=row.window_started_at + limit.window, now=now)
        row.attempts += 1


async def clear(db: Database, limit: Limit, subject: str) -> None:
    """Forget the attempts of ``subject`` (after a success)."""
    async with db.uow() as uow:
        await uow.session.execute(
            delete(AttemptCounter).where(col(AttemptCounter.key) == f"{limit.name}:{subject}"[:100])
        )
