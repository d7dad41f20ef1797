"""Census import, invite codes and their redemption."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlmodel import col

from bot.deliberation.census import CensusBounds, CensusProblem, CensusRow, parse_census
from bot.deliberation.errors import DomainError, InvalidInput, NotFound
from bot.deliberation.scope import Scope
from bot.services import throttle
from bot.storage.models import (
    Building,
    BuildingUnit,
    Community,
    ExclusiveUnit,
    InviteCode,
    MemberLink,
    Owner,
    utcnow,
)
from bot.storage.uow import Database, UnitOfWork, rowcount

# No 0/O, 1/I/L: codes are read off paper by people of every age.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


class CensusRejected(DomainError):
    code = "census_rejected"

    def __init__(self, problems: list[CensusProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s)", count=len(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ImportReport:
    community: str
    created: int
    updated: int
    unchanged: int

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


async def get_community(uow: UnitOfWork, name: str) -> Community:
    community = (await uow.session.execute(select(Community).where(col(Community.name) == name))).scalar_one_or_none()
    if community is None:
        raise NotFound(f"no community named {name!r}", what="community", name=name)
    return community


async def import_census(
    db: Database, community_name: str, text: str, bounds: CensusBounds | None = None
) -> ImportReport:
    """All or nothing: a file with any bad line writes nothing. Re-importing changes nothing."""
    rows, problems = parse_census(text, bounds)
    if problems:
        raise CensusRejected(problems)
    digest = hashlib.sha256(text.encode()).hexdigest()
    async with db.uow() as uow:
        community = (
            await uow.session.execute(select(Community).where(col(Community.name) == community_name))
        ).scalar_one_or_none()
        created = updated = 0
        if community is None:
            community = Community(name=community_name)
            uow.session.add(community)
            await uow.session.flush()
            created += 1
        assert community.id is not None
        owners = await _owners(uow, community.id, rows)
        created += owners[1]
        homes_created, homes_updated = await _homes(uow, community.id, rows, owners[0])
        created += homes_created
        updated += homes_updated + owners[2]
        report = ImportReport(community_name, created, updated, len(rows) - homes_created - homes_updated)
        if report.changed:
            await uow.ledger.append(
                "census_imported",
                f"community:{community.id}",
                {"community": community_name, "sha256": digest, "rows": len(rows), "created": created,
                 "updated": updated},
            )
    return report


async def _owners(uow: UnitOfWork, community_id: int, rows: list[CensusRow]) -> tuple[dict[str, Owner], int, int]:
    existing = {
        owner.ref: owner
        for owner in (await uow.session.execute(select(Owner).where(col(Owner.community_id) == community_id))).scalars()
    }
    created = updated = 0
    for row in rows:
        owner = existing.get(row.owner_ref)
        if owner is None:
            owner = Owner(community_id=community_id, ref=row.owner_ref, kind=row.owner_kind)
            uow.session.add(owner)
            existing[row.owner_ref] = owner
            created += 1
        elif owner.kind != row.owner_kind:
            owner.kind = row.owner_kind
            updated += 1
    await uow.session.flush()
    return existing, created, updated


async def _homes(
    uow: UnitOfWork, community_id: int, rows: list[CensusRow], owners: dict[str, Owner]
) -> tuple[int, int]:
    buildings = {
        b.number: b
        for b in (await uow.session.execute(
            select(Building).where(col(Building.community_id) == community_id))).scalars()
    }
    units: dict[tuple[str, str], BuildingUnit] = {}
    homes: dict[tuple[str, str, str], ExclusiveUnit] = {}
    existing = await uow.session.execute(
        select(col(Building.number), BuildingUnit, ExclusiveUnit)
        .join(BuildingUnit, col(BuildingUnit.building_id) == col(Building.id))
        .outerjoin(ExclusiveUnit, col(ExclusiveUnit.building_unit_id) == col(BuildingUnit.id))
        .where(col(Building.community_id) == community_id)
    )
    for number, known_unit, known_home in existing:
        units[(number, known_unit.number)] = known_unit
        if known_home is not None:  # the outer join gives units without homes too
            homes[(number, known_unit.number, known_home.room)] = known_home
    created = updated = 0
    for row in rows:
        building = buildings.get(row.building)
        if building is None:
            building = Building(community_id=community_id, number=row.building)
            uow.session.add(building)
            await uow.session.flush()
            buildings[row.building] = building
        unit = units.get((row.building, row.unit))
        if unit is None:
            assert building.id is not None
            unit = BuildingUnit(building_id=building.id, number=row.unit)
            uow.session.add(unit)
            await uow.session.flush()
            units[(row.building, row.unit)] = unit
        owner_id = owners[row.owner_ref].id
        assert unit.id is not None and owner_id is not None
        home = homes.get((row.building, row.unit, row.room))
        wanted = {"floor": row.floor, "area_centi": row.area_centi, "area_source": row.area_source,
                  "owner_id": owner_id}
        if home is None:
            uow.session.add(ExclusiveUnit(building_unit_id=unit.id, room=row.room, floor=row.floor,
                                          area_centi=row.area_centi, area_source=row.area_source, owner_id=owner_id))
            created += 1
        elif any(getattr(home, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(home, key, value)
            updated += 1
    await uow.session.flush()
    return created, updated


# --- invite codes -----------------------------------------------------------------------------------


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    building: str
    unit: str
    room: str
    code: str


async def issue_codes(db: Database, community_name: str, scope: str | None = None) -> list[IssuedCode]:
    """One fresh code per home (optionally within a scope); earlier unused codes stop working."""
    wanted = Scope.parse(scope) if scope else Scope.community()
    issued: list[IssuedCode] = []
    async with db.uow() as uow:
        community = await get_community(uow, community_name)
        homes = await uow.session.execute(
            select(col(Building.number), col(BuildingUnit.number), ExclusiveUnit)
            .join(BuildingUnit, col(BuildingUnit.building_id) == col(Building.id))
            .join(ExclusiveUnit, col(ExclusiveUnit.building_unit_id) == col(BuildingUnit.id))
            .where(col(Building.community_id) == community.id)
        )
        now = utcnow()
        chosen = [(b, u, home) for b, u, home in homes if wanted.contains(b, u)]
        if not chosen:
            raise NotFound("no homes in scope", what="scope", name=str(wanted))
        home_ids = [home.id for _, _, home in chosen]
        await uow.session.execute(
            update(InviteCode)
            .where(col(InviteCode.exclusive_unit_id).in_(home_ids))
            .where(col(InviteCode.used_at).is_(None), col(InviteCode.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        for building, unit, home in sorted(chosen, key=lambda item: _sort_key(item[0], item[1], item[2].room)):
            code = new_code()
            assert home.id is not None
            uow.session.add(InviteCode(exclusive_unit_id=home.id, code_hash=hash_code(code), issued_at=now))
            issued.append(IssuedCode(building, unit, home.room, code))
        await uow.ledger.append(
            "invite_codes_issued", f"community:{community.id}", {"scope": str(wanted), "count": len(issued)}
        )
    return issued


def _sort_key(*labels: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(label), "") if label.isdigit() else (1 << 30, label) for label in labels)


@dataclass(frozen=True, slots=True)
class Redeemed:
    member_id: int
    exclusive_unit_id: int
    building: str
    unit: str
    room: str


class CodeInvalid(DomainError):
    code = "code_invalid"


async def home_parts(uow: UnitOfWork, home_id: int) -> tuple[str, str, str] | None:
    """A home's building, unit and room numbers (``"-".join`` gives its label, e.g. 3-2-501)."""
    row = (await uow.session.execute(
        select(col(Building.number), col(BuildingUnit.number), col(ExclusiveUnit.room))
        .join(BuildingUnit, col(BuildingUnit.building_id) == col(Building.id))
        .join(ExclusiveUnit, col(ExclusiveUnit.building_unit_id) == col(BuildingUnit.id))
        .where(col(ExclusiveUnit.id) == home_id))).first()
    return None if row is None else (row[0], row[1], row[2])


async def redeem_code(
    db: Database, platform: str, external_id: str, code: str, display_name: str = ""
) -> Redeemed:
    """Link the member to the code's home as its owner, verified at once. A code works once.

    Attempts are limited per account (``throttle.CODE_PER_ACCOUNT``), counted in the database.
    """
    await throttle.take(db, throttle.CODE_PER_ACCOUNT, f"{platform}:{external_id}")
    if len(normalize_code(code)) != CODE_LENGTH:
        raise InvalidInput("malformed code", field="code")
    redeemed = await _redeem(db, platform, external_id, code, display_name)
    await throttle.clear(db, throttle.CODE_PER_ACCOUNT, f"{platform}:{external_id}")
    return redeemed


async def _redeem(db: Database, platform: str, external_id: str, code: str, display_name: str) -> Redeemed:
    async with db.uow() as uow:
        invite = (
            await uow.session.execute(select(InviteCode).where(col(InviteCode.code_hash) == hash_code(code)))
        ).scalar_one_or_none()
        if invite is None or invite.revoked_at is not None or invite.used_at is not None:
            raise CodeInvalid("unknown, replaced or used code")
        member = await uow.member(platform, external_id, display_name)
        assert member.id is not None and invite.id is not None
        now = utcnow()
        # The WHERE makes redemption single-use even when two members race for one code.
        claimed = await uow.session.execute(
            update(InviteCode)
            .where(col(InviteCode.id) == invite.id, col(InviteCode.used_at).is_(None))
            .values(used_at=now, used_by_member_id=member.id)
        )
        if rowcount(claimed) != 1:
            raise CodeInvalid("code already used")
        inserted = await uow.insert_ignore(
            MemberLink,
            {"member_id": member.id, "exclusive_unit_id": invite.exclusive_unit_id, "role": "owner",
             "status": "verified", "via": "code", "created_at": now, "decided_at": now},
            ("member_id", "exclusive_unit_id"),
        )
        if not inserted:
            await uow.session.execute(
                update(MemberLink)
                .where(col(MemberLink.member_id) == member.id,
                       col(MemberLink.exclusive_unit_id) == invite.exclusive_unit_id)
                .values(role="owner", status="verified", via="code", decided_at=now)
            )
        found = await home_parts(uow, invite.exclusive_unit_id)
        assert found is not None  # an invite code is issued for a home of the census
        building, unit, room = found
        await uow.ledger.append(
            "member_linked",
            f"member:{member.id}",
            {"unit": invite.exclusive_unit_id, "role": "owner", "via": "code"},
        )
        return Redeemed(member.id, invite.exclusive_unit_id, building, unit, room)
