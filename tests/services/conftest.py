"""Small synthetic communities whose areas put each rule exactly on its boundary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.services.census import import_census
from bot.services.council import add_council_member
from bot.services.directory import Actor, home_by_label
from bot.storage import Database
from bot.storage.models import Community, MemberLink, utcnow

HEADER = "building,unit,floor,room,area_m2,area_source,owner_id,owner_kind\n"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
MODERATOR = Actor("telegram", "9000", "Moderator")


def census(*homes: tuple[str, str, str | int, str, str, str]) -> str:
    """Rows of (building-unit, room, floor, area, owner, kind)."""
    lines = []
    for bu, room, floor, area, owner, kind in homes:
        building, unit = bu.split("-")
        lines.append(f"{building},{unit},{floor},{room},{area},registry,{owner},{kind}")
    return HEADER + "\n".join(lines) + "\n"


def resident(n: int | str) -> Actor:
    return Actor("telegram", str(n), f"Resident {n}")


LinkFn = Callable[..., Awaitable[Actor]]


@pytest.fixture
def link(db: Database) -> LinkFn:
    """Link a new chat member to a home as verified owner (or resident)."""

    async def _link(community_id: int, label: str, user: int | str, role: str = "owner") -> Actor:
        actor = resident(user)
        async with db.uow() as uow:
            member = await uow.member(actor.platform, actor.external_id, actor.display_name)
            home = await home_by_label(uow, community_id, label)
            uow.session.add(MemberLink(member_id=member.id, exclusive_unit_id=home.id, role=role, status="verified",
                                       via="request", created_at=utcnow()))
        return actor

    return _link


@pytest.fixture
def make_community(db: Database) -> Callable[..., Awaitable[int]]:
    async def _make(text: str, name: str = "T", **settings: object) -> int:
        await import_census(db, name, text)
        await add_council_member(db, name, MODERATOR.platform, MODERATOR.external_id)
        async with db.uow() as uow:
            community = (await uow.session.execute(select(Community).where(Community.name == name))).scalar_one()
            for key, value in settings.items():
                setattr(community, key, value)
            assert community.id is not None
            return community.id

    return _make
