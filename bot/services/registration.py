"""Linking chat members to homes by request, for a moderator to approve or deny."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.deliberation.errors import AlreadyDone, InvalidInput, NotFound
from bot.services import directory
from bot.services.directory import Actor, Home
from bot.storage.models import Building, BuildingUnit, ExclusiveUnit, Member, MemberLink, utcnow
from bot.storage.uow import Database


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
                    select(Building.community_id)
                    .join(BuildingUnit, BuildingUnit.building_id == Building.id)  # type: ignore[arg-type]
                    .join(ExclusiveUnit, ExclusiveUnit.building_unit_id == BuildingUnit.id)  # type: ignore[arg-type]
                    .where(Building.number == parts[0], BuildingUnit.number == parts[1], ExclusiveUnit.room == parts[2])
                    .order_by(Building.community_id)
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


async def request_link(db: Database, actor: Actor, home_id: int, role: str, now: datetime | None = None) -> Requested:
    if role not in ("owner", "resident"):
        raise InvalidInput("role is owner or resident", field="role")
    now = now or utcnow()
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        existing = (
            await uow.session.execute(
                select(MemberLink).where(MemberLink.member_id == member.id, MemberLink.exclusive_unit_id == home_id)
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
        assert link.id is not None
        return Requested(link.id, created)


@dataclass(frozen=True, slots=True)
class PendingLink:
    link_id: int
    member: Member
    home: Home
    role: str


async def pending_links(db: Database, community_id: int, limit: int = 20) -> list[PendingLink]:
    async with db.uow() as uow:
        rows = (
            await uow.session.execute(
                select(MemberLink, Member)
                .join(Member, Member.id == MemberLink.member_id)  # type: ignore[arg-type]
                .where(MemberLink.status == "pending")
                .order_by(MemberLink.id)
            )
        ).all()
        out = []
        for link, member in rows:
            home = await directory.home_by_id(uow, community_id, link.exclusive_unit_id)
            if home is not None:
                out.append(PendingLink(link.id, member, home, link.role))
            if len(out) >= limit:
                break
        return out


@dataclass(frozen=True, slots=True)
class Decided:
    link: MemberLink
    member: Member
    home: Home


async def decide_link(db: Database, link_id: int, actor: Actor, approve: bool, now: datetime | None = None) -> Decided:
    now = now or utcnow()
    async with db.uow() as uow:
        link = (
            await uow.session.execute(select(MemberLink).where(MemberLink.id == link_id).with_for_update())
        ).scalar_one_or_none()
        if link is None:
            raise NotFound(f"no registration {link_id}", what="registration", id=link_id)
        community_id = (
            await uow.session.execute(
                select(Building.community_id)
                .join(BuildingUnit, BuildingUnit.building_id == Building.id)  # type: ignore[arg-type]
                .join(ExclusiveUnit, ExclusiveUnit.building_unit_id == BuildingUnit.id)  # type: ignore[arg-type]
                .where(ExclusiveUnit.id == link.exclusive_unit_id)
            )
        ).scalar_one()
        moderator = await directory.require_moderator(uow, actor, community_id)
        if link.status != "pending":
            raise AlreadyDone("already decided", reason="already_decided", status=link.status)
        link.status = "verified" if approve else "denied"
        link.decided_by_member_id, link.decided_at = moderator.id, now
        member = await uow.session.get(Member, link.member_id)
        home = await directory.home_by_id(uow, community_id, link.exclusive_unit_id)
        assert member is not None and home is not None
        await uow.ledger.append(
            "link_decided",
            f"member:{member.id}",
            {"unit": link.exclusive_unit_id, "role": link.role, "status": link.status, "by": moderator.id},
            at=now,
        )
        return Decided(link, member, home)


async def set_locale(db: Database, actor: Actor, locale: str) -> None:
    async with db.uow() as uow:
        member = await directory.member_of(uow, actor)
        member.locale = locale
