"""Census import, invite codes and their redemption."""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import col

from bot.deliberation.census import CensusBounds, CensusProblem, CensusRow, scan_census
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


# A file with every line wrong (say, the wrong separator) would list 100,000 problems: the first ones are
# kept with their details, the rest only counted, so memory stays flat whatever the file.
MAX_LISTED_PROBLEMS = 10_000
# Rows written per round trip: large enough to amortize it, small enough to stay within the bound-parameter
# limits of SQLite (32,766) and PostgreSQL (32,767) with room to spare.
CHUNK_ROWS = 2_000


class CensusRejected(DomainError):
    code = "census_rejected"

    def __init__(self, problems: list[CensusProblem], total: int | None = None) -> None:
        total = len(problems) if total is None else total
        super().__init__(f"{total} problem(s)", count=total)
        self.problems = problems
        self.total = total  # may exceed len(problems): only MAX_LISTED_PROBLEMS are kept


class CensusChanged(DomainError):
    """The file changed between checking it and writing it: nothing was written."""

    code = "census_changed"


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


LineSource = Callable[[], AbstractContextManager[Iterable[str]]]


async def import_census(
    db: Database, community_name: str, text: str, bounds: CensusBounds | None = None
) -> ImportReport:
    """All or nothing: a file with any bad line writes nothing. Re-importing changes nothing."""
    return await import_census_lines(db, community_name, lambda: nullcontext(io.StringIO(text, newline="")), bounds)


async def import_census_file(
    db: Database, community_name: str, path: Path, bounds: CensusBounds | None = None
) -> ImportReport:
    """Like :func:`import_census`, streaming the file twice instead of holding it (UnicodeDecodeError if not UTF-8)."""
    return await import_census_lines(
        db, community_name, lambda: path.open(encoding="utf-8", newline=""), bounds)


async def import_census_lines(
    db: Database, community_name: str, open_lines: LineSource, bounds: CensusBounds | None = None
) -> ImportReport:
    """Two streaming passes over ``open_lines()``: check every line, then write in chunks in one transaction.

    Only what differs from the database is written, compared by key a chunk at a time, so an unchanged
    file writes nothing and appends no ledger entry. A changed import appends one entry carrying the
    file's SHA-256, row count and figures (the ledger records the import, not each home).
    """
    rows, digest = _check(open_lines, bounds)
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
        writer = _Writer(uow, community.id)
        await writer.load_places()
        rehash = hashlib.sha256()
        seen = 0
        with open_lines() as lines:
            chunk: list[CensusRow] = []
            for item in scan_census(_hashing(lines, rehash), bounds):
                if not isinstance(item, CensusRow):
                    raise CensusChanged("the file changed while it was imported")
                chunk.append(item)
                if len(chunk) >= CHUNK_ROWS:
                    await writer.write(chunk)
                    seen += len(chunk)
                    chunk = []
            if chunk:
                await writer.write(chunk)
                seen += len(chunk)
        if seen != rows or rehash.hexdigest() != digest:
            raise CensusChanged("the file changed while it was imported")
        created += writer.owners_created + writer.homes_created
        updated += writer.homes_updated + writer.owners_updated
        report = ImportReport(community_name, created, updated, rows - writer.homes_created - writer.homes_updated)
        if report.changed:
            await uow.ledger.append(
                "census_imported",
                f"community:{community.id}",
                {"community": community_name, "sha256": digest, "rows": rows, "created": created,
                 "updated": updated},
            )
    return report


def _hashing(lines: Iterable[str], digest: hashlib._Hash) -> Iterator[str]:
    for line in lines:
        digest.update(line.encode())
        yield line


def _check(open_lines: LineSource, bounds: CensusBounds | None) -> tuple[int, str]:
    """The first pass: count good rows, list problems (bounded), hash the text. Raises CensusRejected."""
    problems: list[CensusProblem] = []
    total = rows = 0
    digest = hashlib.sha256()
    with open_lines() as lines:
        for item in scan_census(_hashing(lines, digest), bounds):
            if isinstance(item, CensusRow):
                rows += 1
                continue
            total += 1
            if len(problems) < MAX_LISTED_PROBLEMS:
                problems.append(item)
    if total:
        raise CensusRejected(problems, total)
    return rows, digest.hexdigest()


_OWNERS = Owner.__table__  # type: ignore[attr-defined]
_HOMES = ExclusiveUnit.__table__  # type: ignore[attr-defined]
_BUILDINGS = Building.__table__  # type: ignore[attr-defined]
_UNITS = BuildingUnit.__table__  # type: ignore[attr-defined]
_HOME_FIELDS = ("floor", "area_centi", "area_source", "owner_id")


class _Writer:
    """Writes census rows a chunk at a time: inserts what is new, updates what differs, leaves the rest."""

    def __init__(self, uow: UnitOfWork, community_id: int) -> None:
        self.uow = uow
        self.community_id = community_id
        # Buildings and their units number in the hundreds even for a street: kept whole.
        self.buildings: dict[str, int] = {}
        self.units: dict[tuple[str, str], int] = {}
        self.owners_created = self.owners_updated = self.homes_created = self.homes_updated = 0

    async def load_places(self) -> None:
        result = await self.uow.session.execute(
            select(_BUILDINGS.c.number, _BUILDINGS.c.id, _UNITS.c.number, _UNITS.c.id)
            .select_from(_BUILDINGS.outerjoin(_UNITS, _UNITS.c.building_id == _BUILDINGS.c.id))
            .where(_BUILDINGS.c.community_id == self.community_id))
        for building, building_id, unit, unit_id in result:
            self.buildings[building] = building_id
            if unit is not None:
                self.units[(building, unit)] = unit_id

    async def write(self, rows: list[CensusRow]) -> None:
        owners = await self._owners(rows)
        await self._places(rows)
        session = self.uow.session
        unit_ids = {self.units[(row.building, row.unit)] for row in rows}
        rooms = {row.room for row in rows}
        # Homes of the chunk's units with the chunk's rooms: a small superset of the chunk, matched by key.
        existing = {
            (unit_id, room): (home_id, (floor, area, source, owner_id))
            for home_id, unit_id, room, floor, area, source, owner_id in await session.execute(
                select(_HOMES.c.id, _HOMES.c.building_unit_id, _HOMES.c.room, _HOMES.c.floor, _HOMES.c.area_centi,
                       _HOMES.c.area_source, _HOMES.c.owner_id)
                .where(_HOMES.c.building_unit_id.in_(unit_ids), _HOMES.c.room.in_(rooms)))
        }
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        for row in rows:
            unit_id = self.units[(row.building, row.unit)]
            wanted = (row.floor, row.area_centi, row.area_source, owners[row.owner_ref])
            known = existing.get((unit_id, row.room))
            if known is None:
                inserts.append({"building_unit_id": unit_id, "room": row.room,
                                **dict(zip(_HOME_FIELDS, wanted, strict=True))})
            elif known[1] != wanted:
                updates.append({"home_id": known[0], **{f"new_{k}": v for k, v in zip(_HOME_FIELDS, wanted,
                                                                                      strict=True)}})
        if inserts:
            await session.execute(insert(_HOMES), inserts)
        if updates:
            await session.execute(
                update(_HOMES).where(_HOMES.c.id == bindparam("home_id"))
                .values({k: bindparam(f"new_{k}") for k in _HOME_FIELDS}), updates)
        self.homes_created += len(inserts)
        self.homes_updated += len(updates)

    async def _owners(self, rows: list[CensusRow]) -> dict[str, int]:
        """The chunk's owners by ref, created or corrected as needed (an owner's kind is one per file)."""
        session = self.uow.session
        kinds = {row.owner_ref: row.owner_kind for row in rows}
        query = select(_OWNERS.c.ref, _OWNERS.c.id, _OWNERS.c.kind).where(
            _OWNERS.c.community_id == self.community_id, _OWNERS.c.ref.in_(kinds))
        known = {ref: (owner_id, kind) for ref, owner_id, kind in await session.execute(query)}
        new = [{"community_id": self.community_id, "ref": ref, "kind": kind}
               for ref, kind in kinds.items() if ref not in known]
        # Counted once: a later chunk finds the owner already corrected.
        changed = [{"owner_id": known[ref][0], "new_kind": kind}
                   for ref, kind in kinds.items() if ref in known and known[ref][1] != kind]
        if changed:
            await session.execute(
                update(_OWNERS).where(_OWNERS.c.id == bindparam("owner_id")).values(kind=bindparam("new_kind")),
                changed)
            self.owners_updated += len(changed)
        ids = {ref: owner_id for ref, (owner_id, _) in known.items()}
        if new:
            await session.execute(insert(_OWNERS), new)
            self.owners_created += len(new)
            ids.update((ref, owner_id) for ref, owner_id, _ in await session.execute(
                query.where(_OWNERS.c.ref.in_([owner["ref"] for owner in new]))))
        return ids

    async def _places(self, rows: list[CensusRow]) -> None:
        session = self.uow.session
        missing = sorted({row.building for row in rows} - self.buildings.keys())
        if missing:
            await session.execute(insert(_BUILDINGS), [{"community_id": self.community_id, "number": number}
                                                       for number in missing])
            self.buildings.update((number, building_id) for number, building_id in await session.execute(
                select(_BUILDINGS.c.number, _BUILDINGS.c.id).where(
                    _BUILDINGS.c.community_id == self.community_id, _BUILDINGS.c.number.in_(missing))))
        wanted = sorted({(row.building, row.unit) for row in rows} - self.units.keys())
        if wanted:
            await session.execute(insert(_UNITS), [{"building_id": self.buildings[b], "number": u}
                                                   for b, u in wanted])
            wanted_ids = {self.buildings[b] for b, _ in wanted}
            numbers = {building_id: number for number, building_id in self.buildings.items()}
            self.units.update(((numbers[building_id], unit), unit_id) for building_id, unit, unit_id in
                              await session.execute(
                                  select(_UNITS.c.building_id, _UNITS.c.number, _UNITS.c.id)
                                  .where(_UNITS.c.building_id.in_(wanted_ids))))


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
