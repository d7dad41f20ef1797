"""Communities in storage (a repository)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from bot.storage.models import Community
from bot.storage.uow import UnitOfWork


async def all_communities(uow: UnitOfWork) -> list[Community]:
    """Every community, by id."""
    return list((await uow.session.execute(select(Community).order_by(col(Community.id)))).scalars())


async def by_id(uow: UnitOfWork, community_id: int) -> Community | None:
    return await uow.session.get(Community, community_id)
