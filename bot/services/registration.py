"""Linking chat members to homes by request, for a moderator to approve or deny."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from bot.deliberation.errors import AlreadyDone, InvalidInput, NeedsConfirmation, NotEligible, NotFound
from bot.deliberation.mandate import Power
from bot.services import directory, throttle
from bot.services.directory import Actor, Home
from bot.storage.models import Building, BuildingUnit, ExclusiveUnit, Member, MemberLink, utcnow
from bot.storage.uow import Database, UnitOfWork


@dataclass(frozen=True, slots=True)
class Candidate:
    community_id: int
    home: Home


async def find_home(db: Database, label: str) -> Candidate:
    """The home ``building-unit-room`` in whichever community has it (first by id if several do)."""
    parts = label.strip().split("-")
    if len(parts) != 3 or not all(parts):
        raise NotFound(f"no home {label!r}", what="home", name=label)
    async with db.uow() as uow:
        community_ids = (
            (
                await uow.session.execute(
                    select(col(Building.community_id))
                    .join(BuildingUnit, col(BuildingUnit.building_id) == col(Building.id))
                    .join(ExclusiveUnit, col(ExclusiveUnit.building_unit_id) == col(BuildingUnit.id))
                    .where(col(Building.number) == parts[0], col(BuildingUnit.number) == parts[1],
                           col(ExclusiveUnit.room) == parts[2])
                    .order_by(col(Building.community_id))
                )
            )
            .scalars()
            .all()
        )
        if not community_ids:
            raise NotFound(f"no home {label!r}", what="home", name=label)
        home = await directory.home_by_label(uow, community_ids[0], label)
        return Candidate(community_ids[0], home)


@dataclass(frozen=True, slots=True)
class Requested:
    link_id: int
    created: bool
    community_id: int = 0
    home: Home | None = None
    member: Member | None = None
    owners: tuple[Member, ...] = ()  # the home's verified owners (other members), told privately
    role: str = ""


# Called inside the request's transaction, so the council and the home's owners hear of it if and only if
# it was recorded (the handlers word and queue the notices).
OnRequested = Callable[[UnitOfWork, Requested, datetime], Awaitable[None]]


async def verified_owners(uow: UnitOfWork, home_id: int, *, besides: int | None = None) -> list[Member]:
    """Members linked to the home as its verified owner (other than ``besides``)."""
    query = (
        select(Member)
        .join(MemberLink, col(MemberLink.member_id) == col(Member.id))
        .where(col(MemberLink.exclusive_unit_id) == home_id, col(MemberLink.role) == "owner",
               col(MemberLink.status) == "verified")
        .order_by(col(Member.id))
    )
    if besides is not None:
        query = query.where(col(Member.id) != besides)
    return list((await uow.session.execute(query)).scalars())


async def request_link(
    db: Database, actor: Actor, home_id: int, role: str, now: datetime | None = None,
    *, on_requested: OnRequested | None = None,
) -> Requested:
    """Ask to be linked to a home; limited per account and per home (``throttle``)."""
    if role not in ("owner", "resident"):
        raise InvalidInput("role is owner or resident", field="role")
    now = now or utcnow()
    await throttle.take(db, throttle.REQUEST_PER_ACCOUNT, f"{actor.platform}:{actor.external_id}", now)
    await throttle.take(db, throttle.REQUEST_PER_HOME, str(home_id), now)
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        assert member.id is not None
        existing = (
            await uow.session.execute(
                select(MemberLink).where(col(MemberLink.member_id) == member.id,
                                         col(MemberLink.exclusive_unit_id) == home_id)
            )
        ).scalar_one_or_none()
        if existing is not None:
            if existing.status == "verified":
                raise AlreadyDone("already linked", reason="already_linked")
            existing.role, existing.status, existing.via = role, "pending", "request"
            existing.created_at, existing.decided_at = now, None
            link, created = existing, False
        else:
            link = MemberLink(
                member_id=member.id,
                exclusive_unit_id=home_id,
                role=role,
                status="pending",
                via="request",
                created_at=now,
            )
            uow.session.add(link)
            created = True
        await uow.session.flush()
        await uow.ledger.append("link_requested", f"member:{member.id}", {"unit": home_id, "role": role}, at=now)
        assert link.id is not None and member.id is not None
        community_id = await _community_of_home(uow, home_id)
        home = await directory.home_by_id(uow, community_id, home_id)
        owners = await verified_owners(uow, home_id, besides=member.id)
        requested = Requested(link.id, created, community_id, home, member, tuple(owners), role)
        if on_requested is not None:
            await on_requested(uow, requested, now)
        return requested


async def _community_of_home(uow: UnitOfWork, home_id: int) -> int:
    community_id = (
        await uow.session.execute(
            select(col(Building.community_id))
            .join(BuildingUnit, col(BuildingUnit.building_id) == col(Building.id))
            .join(ExclusiveUnit, col(ExclusiveUnit.building_unit_id) == col(BuildingUnit.id))
            .where(col(ExclusiveUnit.id) == home_id)
        )
    ).scalar_one_or_none()
    if community_id is None:
        raise NotFound(f"no home #{home_id}", what="home", name=str(home_id))
    return int(community_id)


@dataclass(frozen=True, slots=True)
class PendingLink:
    link_id: int
    member: Member
    home: Home
    role: str
    owner_verified: bool = False  # the home already has a verified owner: approving needs a confirmation
    own: bool = False  # the viewer's own request, or a home the viewer is linked to: another member decides


async def pending_links(
    db: Database, community_id: int, limit: int = 20, *, viewer: Actor | None = None
) -> list[PendingLink]:
    """Requests waiting in the community; with ``viewer``, for a council member of it only."""
    async with db.uow() as uow:
        viewer_id = None
        if viewer is not None:
            viewer_id = (await directory.require_moderator(uow, viewer, community_id,
                                                           power=Power.REGISTRATIONS)).id
        return await pending_in(uow, community_id, limit, viewer_id=viewer_id)


async def pending_in(uow: UnitOfWork, community_id: int, limit: int = 20, *,
                     viewer_id: int | None = None) -> list[PendingLink]:
    rows = (
        await uow.session.execute(
            select(MemberLink, Member)
            .join(Member, col(Member.id) == col(MemberLink.member_id))
            .where(col(MemberLink.status) == "pending")
            .order_by(col(MemberLink.id))
        )
    ).all()
    out = []
    for link, member in rows:
        home = await directory.home_by_id(uow, community_id, link.exclusive_unit_id)
        if home is None:
            continue
        owned = bool(await verified_owners(uow, home.id, besides=member.id))
        own = viewer_id is not None and (
            member.id == viewer_id or await directory.linked_to_home(uow, viewer_id, home.id, home.owner_id))
        assert link.id is not None
        out.append(PendingLink(link.id, member, home, link.role, owned, own))
        if len(out) >= limit:
            break
    return out


@dataclass(frozen=True, slots=True)
class Decided:
    link: MemberLink
    member: Member
    home: Home


async def decide_link(
    db: Database, link_id: int, actor: Actor, approve: bool, now: datetime | None = None, *, confirm: bool = False
) -> Decided:
    """A council member approves or denies a request: never their own, never for a home they are linked to.

    Approving a request for a home that already has a verified owner needs ``confirm`` (a second,
    explicit press): otherwise ``NeedsConfirmation`` and nothing changes.
    """
    now = now or utcnow()
    async with db.uow() as uow:
        link = (
            await uow.session.execute(select(MemberLink).where(col(MemberLink.id) == link_id).with_for_update())
        ).scalar_one_or_none()
        if link is None:
            raise NotFound(f"no registration {link_id}", what="registration", id=link_id)
        community_id = await _community_of_home(uow, link.exclusive_unit_id)
        moderator = await directory.require_moderator(uow, actor, community_id, power=Power.REGISTRATIONS)
        assert moderator.id is not None
        if link.member_id == moderator.id:
            raise NotEligible("nobody decides their own registration", reason="own_registration")
        await directory.refuse_own_home(uow, moderator.id, link.exclusive_unit_id)
        if link.status != "pending":
            raise AlreadyDone("already decided", reason="already_decided", status=link.status)
        if approve and not confirm and await verified_owners(uow, link.exclusive_unit_id, besides=link.member_id):
            raise NeedsConfirmation("the home has a verified owner", reason="owner_verified", id=link_id)
        link.status = "verified" if approve else "denied"
        link.decided_by_member_id, link.decided_at = moderator.id, now
        member = await uow.session.get(Member, link.member_id)
        home = await directory.home_by_id(uow, community_id, link.exclusive_unit_id)
        assert member is not None and home is not None
        await uow.ledger.append(
            "link_decided",
            f"member:{member.id}",
            {"unit": link.exclusive_unit_id, "role": link.role, "status": link.status, "by": moderator.id,
             **({"confirmed_over_owner": True} if approve and confirm else {})},
            at=now,
        )
        return Decided(link, member, home)


async def set_locale(db: Database, actor: Actor, locale: str) -> None:
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        member.locale = locale
