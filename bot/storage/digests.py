"""Digest subscriptions in storage (a repository)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from bot.storage.models import DigestSubscription
from bot.storage.uow import UnitOfWork


async def subscriptions(uow: UnitOfWork) -> list[DigestSubscription]:
    """Every digest subscription, by id."""
    query = select(DigestSubscription).order_by(col(DigestSubscription.id))
    return list((await uow.session.execute(query)).scalars())


async def subscription(uow: UnitOfWork, subscription_id: int, *, lock: bool = False) -> DigestSubscription | None:
    """One subscription (locked for update if asked: its cursor moves under the lock), if it still exists."""
    if not lock:
        return await uow.session.get(DigestSubscription, subscription_id)
    query = select(DigestSubscription).where(col(DigestSubscription.id) == subscription_id).with_for_update()
    return (await uow.session.execute(query)).scalar_one_or_none()
