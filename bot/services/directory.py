"""Who is who: homes in a scope, a member's verified links, roles and rolls, computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVarTuple, cast

from sqlalchemy import Select, func, or_, select
from sqlmodel import col

from bot.deliberation.errors import NotEligible, NotFound
from bot.deliberation.mandate import Mandate, Power, require
from bot.deliberation.scope import Scope, ScopeLevel
from bot.deliberation.tally import Elector, owners_roll
from bot.deliberation.vote_kinds import Electorate
from bot.storage.models import (
    Building,
    BuildingUnit,
    Community,
    CouncilRole,
    ExclusiveUnit,
    Member,
    MemberLink,
    Owner,
)
from bot.storage.uow import UnitOfWork

DEVELOPER_KEY = "developer"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, as the transport saw them.

    ``room_admin_of`` is the bound room (``ChatRoom.id``) the platform says this actor administers
    right now. It carries only the powers ``mandate.POWERS`` gives a room's admins, for that room;
    every community-wide power comes from a council role.
    """

    platform: str
    external_id: str
    display_name: str = ""
    room_admin_of: int | None = None


@dataclass(frozen=True, slots=True)
class Home:
    id: int
    building: str
    unit: str
    room: str
    floor: int
    area_centi: int
    owner_id: int
    owner_kind: str

    @property
    def label(self) -> str:
        return f"{self.building}-{self.unit}-{self.room}"

    @property
    def owner_key(self) -> str:
        # Interpretation on building co-ownership Art. 9: a developer's unsold units count once.
        return DEVELOPER_KEY if self.owner_kind == "developer" else f"owner:{self.owner_id}"


Columns = TypeVarTuple("Columns")
# The row ``homes_query`` selects: the fields of ``Home``, in order.
HomeColumns = Select[int, str, str, str, int, int, int, str]


def in_scope(query: Select[*Columns], scope: Scope) -> Select[*Columns]:
    if scope.level is ScopeLevel.COMMUNITY:
        return query
    query = query.where(col(Building.number) == scope.building)
    if scope.level is ScopeLevel.UNIT:
        query = query.where(col(BuildingUnit.number) == scope.unit)
    return query


def homes_query(community_id: int | None) -> HomeColumns:
    """The columns of ``Home``, in order, for one community (or all, with None)."""
    query = (
        select(col(ExclusiveUnit.id), col(Building.number), col(BuildingUnit.number), col(ExclusiveUnit.room),
               col(ExclusiveUnit.floor), col(ExclusiveUnit.area_centi), col(ExclusiveUnit.owner_id), col(Owner.kind))
        .join(BuildingUnit, col(ExclusiveUnit.building_unit_id) == col(BuildingUnit.id))
        .join(Building, col(BuildingUnit.building_id) == col(Building.id))
        .join(Owner, col(ExclusiveUnit.owner_id) == col(Owner.id))
    )
    if community_id is not None:
        query = query.where(col(Building.community_id) == community_id)
    # A stored row's id is never NULL: the model's ``int | None`` is for rows not inserted yet.
    return cast(HomeColumns, query)


async def home_by_id(uow: UnitOfWork, community_id: int, home_id: int) -> Home | None:
    row = (await uow.session.execute(homes_query(community_id).where(col(ExclusiveUnit.id) == home_id))).one_or_none()
    return Home(*row) if row else None


async def homes(uow: UnitOfWork, community_id: int, scope: Scope) -> list[Home]:
    rows = await uow.session.execute(in_scope(homes_query(community_id), scope).order_by(col(ExclusiveUnit.id)))
    return [Home(*row) for row in rows]


async def home_by_label(uow: UnitOfWork, community_id: int, label: str) -> Home:
    """A home from ``building-unit-room``, e.g. ``3-2-501``."""
    parts = label.strip().split("-")
    if len(parts) != 3 or not all(parts):
        raise NotFound(f"no home {label!r}", what="home", name=label)
    building, unit, room = parts
    row = (
        await uow.session.execute(
            homes_query(community_id).where(col(Building.number) == building, col(BuildingUnit.number) == unit,
                                             col(ExclusiveUnit.room) == room)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no home {label!r}", what="home", name=label)
    return Home(*row)


async def households_in_scope(uow: UnitOfWork, community_id: int, scope: Scope) -> int:
    query = in_scope(
        select(func.count(col(ExclusiveUnit.id)))
        .join(BuildingUnit, col(ExclusiveUnit.building_unit_id) == col(BuildingUnit.id))
        .join(Building, col(BuildingUnit.building_id) == col(Building.id))
        .where(col(Building.community_id) == community_id),
        scope,
    )
    return int((await uow.session.execute(query)).scalar_one())


async def community_by_id(uow: UnitOfWork, community_id: int) -> Community:
    community = await uow.session.get(Community, community_id)
    if community is None:
        raise NotFound(f"no community {community_id}", what="community", name=str(community_id))
    return community


@dataclass(frozen=True, slots=True)
class Link:
    home: Home
    role: str  # owner | resident


async def verified_links(uow: UnitOfWork, member_id: int, community_id: int, scope: Scope | None = None) -> list[Link]:
    query = homes_query(community_id).add_columns(col(MemberLink.role)).join(
        MemberLink, col(MemberLink.exclusive_unit_id) == col(ExclusiveUnit.id)
    ).where(col(MemberLink.member_id) == member_id, col(MemberLink.status) == "verified")
    if scope is not None:
        query = in_scope(query, scope)
    rows = await uow.session.execute(query.order_by(col(ExclusiveUnit.id)))
    return [Link(Home(*row[:8]), row[8]) for row in rows]


async def is_council_member(uow: UnitOfWork, member_id: int, community_id: int) -> bool:
    found = await uow.session.execute(
        select(col(CouncilRole.id)).where(col(CouncilRole.member_id) == member_id,
                                          col(CouncilRole.community_id) == community_id)
    )
    return found.first() is not None


async def verified_links_of(uow: UnitOfWork, member_ids: list[int]) -> dict[int, list[tuple[int, Link]]]:
    """Verified links of several members at once, each with its home's community id."""
    if not member_ids:
        return {}
    rows = await uow.session.execute(
        homes_query(None)
        .add_columns(col(MemberLink.member_id), col(MemberLink.role), col(Building.community_id))
        .join(MemberLink, col(MemberLink.exclusive_unit_id) == col(ExclusiveUnit.id))
        .where(col(MemberLink.member_id).in_(member_ids), col(MemberLink.status) == "verified")
        .order_by(col(ExclusiveUnit.id)))
    out: dict[int, list[tuple[int, Link]]] = {}
    for *home, member_id, role, community_id in rows:
        out.setdefault(member_id, []).append((community_id, Link(Home(*home), role)))
    return out


async def council_pairs(uow: UnitOfWork, member_ids: list[int]) -> set[tuple[int, int]]:
    """(member id, community id) for every council role of these members."""
    if not member_ids:
        return set()
    rows = await uow.session.execute(select(col(CouncilRole.member_id), col(CouncilRole.community_id)).where(
        col(CouncilRole.member_id).in_(member_ids)))
    return {(m, c) for m, c in rows}


async def member_of(uow: UnitOfWork, actor: Actor) -> Member:
    return await uow.member(actor.platform, actor.external_id, actor.display_name)


async def mandates(
    uow: UnitOfWork, actor: Actor, member_id: int, community_id: int, room_id: int | None = None
) -> set[Mandate]:
    """The actor's mandates in the community (and in room ``room_id``, when the power is about a room)."""
    found: set[Mandate] = set()
    if await is_council_member(uow, member_id, community_id):
        found.add(Mandate.COUNCIL)
    if room_id is not None and actor.room_admin_of == room_id:
        found.add(Mandate.ROOM_ADMIN)
    return found


async def require_moderator(
    uow: UnitOfWork, actor: Actor, community_id: int, *, power: Power | None = None, room_id: int | None = None
) -> Member:
    """The acting member, if the role table (``mandate.POWERS``) gives them ``power`` in the community.

    Without ``power``: a power only the council holds. ``room_id`` names the room a room power is about.
    """
    member = await member_of(uow, actor)
    assert member.id is not None
    require(power or Power.REVIEW, await mandates(uow, actor, member.id, community_id, room_id))
    return member


async def linked_to_home(uow: UnitOfWork, member_id: int, home_id: int | None = None,
                         owner_id: int | None = None) -> bool:
    """Whether the member is linked (verified or asking) to the home, or to any home of the same owner."""
    if home_id is not None and owner_id is None:
        owner_id = (await uow.session.execute(
            select(col(ExclusiveUnit.owner_id)).where(col(ExclusiveUnit.id) == home_id))).scalar_one_or_none()
    conditions = []
    if home_id is not None:
        conditions.append(col(ExclusiveUnit.id) == home_id)
    if owner_id is not None:
        conditions.append(col(ExclusiveUnit.owner_id) == owner_id)
    if not conditions:
        return False
    found = await uow.session.execute(
        select(col(MemberLink.id))
        .join(ExclusiveUnit, col(ExclusiveUnit.id) == col(MemberLink.exclusive_unit_id))
        .where(col(MemberLink.member_id) == member_id, col(MemberLink.status).in_(("verified", "pending")),
               or_(*conditions))
        .limit(1)
    )
    return found.first() is not None


async def refuse_own_home(uow: UnitOfWork, member_id: int, home_id: int | None = None,
                          owner_id: int | None = None) -> None:
    """Nobody acts as a moderator on a home they are linked to (their own or their co-owner's)."""
    if await linked_to_home(uow, member_id, home_id, owner_id):
        raise NotEligible("a moderator does not act on their own home", reason="own_home")


async def may_see_community(uow: UnitOfWork, member_id: int, community_id: int) -> bool:
    """Members of the community: a verified home in it, or a seat on its council."""
    if await is_council_member(uow, member_id, community_id):
        return True
    return bool(await verified_links(uow, member_id, community_id))


async def council_communities(uow: UnitOfWork, member_id: int) -> list[int]:
    rows = await uow.session.execute(
        select(col(CouncilRole.community_id)).where(col(CouncilRole.member_id) == member_id)
        .order_by(col(CouncilRole.community_id)))
    return [int(c) for c in rows.scalars()]


def household_key(links: list[Link]) -> str | None:
    """The household a member co-signs for: as an owner (one per owner), else as a resident home."""
    owned = [link for link in links if link.role == "owner"]
    if owned:
        return f"owner:{owned[0].home.owner_id}"
    return f"unit:{links[0].home.id}" if links else None


# --- rolls ------------------------------------------------------------------------------------------


async def build_roll(uow: UnitOfWork, community_id: int, scope: Scope, electorate: Electorate) -> list[Elector]:
    """The electors at this moment, to be frozen on the vote (eligibility does not move later)."""
    if electorate is Electorate.OWNERS:
        return list(owners_roll((home.owner_key, home.area_centi) for home in await homes(uow, community_id, scope)))
    if electorate is Electorate.HOUSEHOLDS:
        return [Elector(f"unit:{home.id}", home.area_centi) for home in await homes(uow, community_id, scope)]
    members = await uow.session.execute(
        select(col(CouncilRole.member_id)).where(col(CouncilRole.community_id) == community_id)
        .order_by(col(CouncilRole.member_id))
    )
    return [Elector(f"member:{member_id}", 0) for member_id in members.scalars()]


def keys_for(links: list[Link], electorate: Electorate, member_id: int, council: bool) -> list[str]:
    """Which electors a member may cast for, from their verified links in the vote's scope.

    Co-owners of a home share its one vote; an owner of several homes casts one position for all.
    """
    if electorate is Electorate.COUNCIL:
        return [f"member:{member_id}"] if council else []
    if electorate is Electorate.OWNERS:
        return sorted({link.home.owner_key for link in links if link.role == "owner"})
    return sorted({f"unit:{link.home.id}" for link in links})


async def elector_keys(
    uow: UnitOfWork, member_id: int, community_id: int, scope: Scope, electorate: Electorate
) -> list[str]:
    council = electorate is Electorate.COUNCIL and await is_council_member(uow, member_id, community_id)
    links = [] if electorate is Electorate.COUNCIL else await verified_links(uow, member_id, community_id, scope)
    return keys_for(links, electorate, member_id, council)


async def verified_links_in(uow: UnitOfWork, community_ids: set[int]) -> dict[int, list[tuple[int, Link]]]:
    """Every verified link to a home in these communities, by member, each with its home's community id."""
    rows = await uow.session.execute(
        homes_query(None)
        .add_columns(col(MemberLink.member_id), col(MemberLink.role), col(Building.community_id))
        .join(MemberLink, col(MemberLink.exclusive_unit_id) == col(ExclusiveUnit.id))
        .where(col(MemberLink.status) == "verified", col(Building.community_id).in_(community_ids)))
    out: dict[int, list[tuple[int, Link]]] = {}
    for *home, member_id, role, community_id in rows:
        out.setdefault(member_id, []).append((community_id, Link(Home(*home), role)))
    return out
