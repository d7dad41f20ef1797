"""Communities in storage (a repository)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from bot.storage.models import Building, BuildingUnit, Community
from bot.storage.uow import UnitOfWork


async def all_communities(uow: UnitOfWork) -> list[Community]:
    """Every community, by id."""
    return list((await uow.session.execute(select(Community).order_by(col(Community.id)))).scalars())


async def by_id(uow: UnitOfWork, community_id: int) -> Community | None:
    return await uow.session.get(Community, community_id)


async def by_name(uow: UnitOfWork, name: str) -> Community | None:
    return (await uow.session.execute(select(Community).where(col(Community.name) == name))).scalar_one_or_none()


async def building_units(uow: UnitOfWork, community_id: int) -> list[tuple[str, str]]:
    """(building number, unit number) of every building unit of the community, in that order."""
    query = (
        select(col(Building.number), col(BuildingUnit.number))
        .join(BuildingUnit, col(BuildingUnit.building_id) == col(Building.id))
        .where(col(Building.community_id) == community_id)
        .order_by(col(Building.number), col(BuildingUnit.number))
    )
    return [(building, unit) for building, unit in await uow.session.execute(query)]
