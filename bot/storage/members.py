"""Members in storage (a repository): who a chat identity is, whether we can reach them, council seats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlmodel import col

from bot.storage.models import Community, CouncilRole, Member
from bot.storage.uow import UnitOfWork


def _is(platform: str, external_id: str) -> ColumnElement[bool]:
    return and_(col(Member.platform) == platform, col(Member.external_id) == external_id)


async def find(uow: UnitOfWork, platform: str, external_id: str) -> Member | None:
    """The member with this chat identity, if we have seen them (never created here: see ``uow.member``)."""
    query = select(Member).where(_is(platform, external_id))
    return (await uow.session.execute(query)).scalar_one_or_none()


async def by_id(uow: UnitOfWork, member_id: int) -> Member | None:
    return await uow.session.get(Member, member_id)


async def id_of(uow: UnitOfWork, platform: str, external_id: str) -> int | None:
    query = select(col(Member.id)).where(_is(platform, external_id))
    return (await uow.session.execute(query)).scalar()


async def reachable(uow: UnitOfWork, platform: str, external_id: str) -> bool | None:
    """Whether we may write to them in private (None: never seen)."""
    query = select(col(Member.reachable)).where(_is(platform, external_id))
    found = (await uow.session.execute(query)).scalar()
    return None if found is None else bool(found)


async def point_once(uow: UnitOfWork, member_id: int, day_start: datetime, now: datetime) -> bool:
    """Stamp ``pointed_at`` unless already stamped since ``day_start``; True if this call stamped it.

    A guarded update: two commands at once still give one pointer, and a restart keeps the day.
    """
    done = await uow.session.execute(
        update(Member)
        .where(col(Member.id) == member_id, or_(col(Member.pointed_at).is_(None), col(Member.pointed_at) < day_start))
        .values(pointed_at=now)
    )
    return bool(getattr(done, "rowcount", 0))


async def council_of(uow: UnitOfWork, community_id: int, *, excluding: int | None = None) -> list[Member]:
    """The council members of a community, by id (``excluding`` one member, e.g. the requester)."""
    query = (
        select(Member)
        .join(CouncilRole, col(CouncilRole.member_id) == col(Member.id))
        .where(col(CouncilRole.community_id) == community_id)
        .order_by(col(Member.id))
    )
    if excluding is not None:
        query = query.where(col(Member.id) != excluding)
    return list((await uow.session.execute(query)).scalars())


async def on_any_council(uow: UnitOfWork, member_id: int) -> bool:
    query = select(col(CouncilRole.id)).where(col(CouncilRole.member_id) == member_id)
    return (await uow.session.execute(query)).first() is not None


async def council_community_names(uow: UnitOfWork, member_id: int) -> list[str]:
    """The names of the communities on whose council the member sits."""
    query = (
        select(col(Community.name))
        .join(CouncilRole, col(CouncilRole.community_id) == col(Community.id))
        .where(col(CouncilRole.member_id) == member_id)
    )
    return list((await uow.session.execute(query)).scalars())


async def council_seats_in(uow: UnitOfWork, community_ids: set[int]) -> set[tuple[int, int]]:
    """(member id, community id) for every council seat in these communities."""
    query = select(col(CouncilRole.member_id), col(CouncilRole.community_id)).where(
        col(CouncilRole.community_id).in_(community_ids))
    return {(m, c) for m, c in await uow.session.execute(query)}


def _may_nudge(day_start: datetime) -> ColumnElement[bool]:
    """Reachable, nudges on, and not nudged since ``day_start``."""
    return and_(col(Member.reachable).is_(True), col(Member.nudges).is_(True),
                or_(col(Member.last_nudged_at).is_(None), col(Member.last_nudged_at) < day_start))


async def nudgeable(uow: UnitOfWork, member_ids: set[int], day_start: datetime) -> list[Member]:
    """Those of these members who may be nudged now (not yet since ``day_start``), by id."""
    query = select(Member).where(col(Member.id).in_(member_ids), _may_nudge(day_start)).order_by(col(Member.id))
    return list((await uow.session.execute(query)).scalars())


async def claim_nudge(uow: UnitOfWork, member_id: int, day_start: datetime, now: datetime) -> bool:
    """Stamp today's nudge unless one was sent since ``day_start`` or they turned nudges off meanwhile.

    A guarded update: two runs at once still nudge once.
    """
    done = await uow.session.execute(
        update(Member).where(col(Member.id) == member_id, _may_nudge(day_start)).values(last_nudged_at=now))
    return bool(getattr(done, "rowcount", 0))


async def mark_unreachable(uow: UnitOfWork, platform: str, external_id: str, member_id: int | None = None) -> None:
    """They blocked the bot: found by ``member_id`` if the message named one, else by their private chat."""
    query = select(Member).where(col(Member.id) == member_id if member_id is not None else _is(platform, external_id))
    member = (await uow.session.execute(query)).scalar_one_or_none()
    if member is not None:
        member.reachable = False
