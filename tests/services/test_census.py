from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.deliberation.census import parse_area
from bot.services.census import CensusRejected, import_census
from bot.storage import Database
from bot.storage.models import Building, BuildingUnit, Community, ExclusiveUnit, LedgerEntry, Owner

HEADER = "building,unit,floor,room,area_m2,area_source,owner_id,owner_kind\n"
GOOD = "1,1,1,101,69.66,registry,O001,person\n1,1,1,102,60.8,survey,O002,person\n"


async def _counts(db: Database) -> dict[str, int]:
    async with db.uow() as uow:
        out = {}
        for name, model in (("communities", Community), ("buildings", Building), ("units", BuildingUnit),
                            ("homes", ExclusiveUnit), ("owners", Owner), ("ledger", LedgerEntry)):
            out[name] = int((await uow.session.execute(select(func.count()).select_from(model))).scalar_one())
        return out


async def test_sample_census_imports_whole(db: Database, sample_census_text: str) -> None:
    report = await import_census(db, "幸福里", sample_census_text)
    assert report.changed
    counts = await _counts(db)
    assert counts == {"communities": 1, "buildings": 4, "units": 12, "homes": 144, "owners": 138, "ledger": 1}
    async with db.uow() as uow:
        home = (await uow.session.execute(select(ExclusiveUnit).where(ExclusiveUnit.room == "101").limit(1))
                ).scalar_one()
        developer = (await uow.session.execute(select(Owner).where(Owner.ref == "DEV"))).scalar_one()
        dev_homes = (await uow.session.execute(
            select(func.count()).where(ExclusiveUnit.owner_id == developer.id))).scalar_one()
    assert home.area_centi == 6966 and home.area_source == "registry"
    assert developer.kind == "developer" and dev_homes == 3


async def test_reimporting_the_same_file_changes_nothing(db: Database, sample_census_text: str) -> None:
    await import_census(db, "幸福里", sample_census_text)
    before = await _counts(db)
    report = await import_census(db, "幸福里", sample_census_text)
    assert not report.changed and report.unchanged == 144
    assert await _counts(db) == before  # not even a ledger entry


async def test_a_corrected_area_is_updated_and_logged(db: Database) -> None:
    await import_census(db, "A", HEADER + GOOD)
    report = await import_census(db, "A", HEADER + GOOD.replace("69.66", "69.67"))
    assert (report.created, report.updated) == (0, 1)
    async with db.uow() as uow:
        areas = sorted((await uow.session.execute(select(ExclusiveUnit.area_centi))).scalars())
    assert areas == [6080, 6967]
    assert (await _counts(db))["ledger"] == 2


@pytest.mark.parametrize(
    ("bad_line", "code"),
    [
        ("1,1,1,103,0,registry,O003,person", "bad_area"),
        ("1,1,1,103,-3.5,registry,O003,person", "bad_area"),
        ("1,1,1,103,60.123,registry,O003,person", "bad_area"),
        ("1,1,1,103,sixty,registry,O003,person", "bad_area"),
        ("1,1,1,103,1e2,registry,O003,person", "bad_area"),
        ("1,1,one,103,60.00,registry,O003,person", "bad_floor"),
        ("1,1,1.5,103,60.00,registry,O003,person", "bad_floor"),
        ("1,1,1,101,60.00,registry,O003,person", "duplicate_room"),
        ("1,1,1,103,60.00,guess,O003,person", "bad_area_source"),
        ("1,1,1,103,60.00,registry,O003,company", "bad_owner_kind"),
        ("1,1,1,103,60.00,registry,O001,developer", "owner_kind_conflict"),
        ("1,1,1,103,60.00,registry,,person", "bad_owner_id"),
        ("1,1,1,103,60.00,registry,O003", "wrong_field_count"),
    ],
)
async def test_one_bad_row_rejects_the_file_and_writes_nothing(db: Database, bad_line: str, code: str) -> None:
    text = HEADER + GOOD + bad_line + "\n" + "1,1,2,201,70.00,registry,O004,person\n"
    with pytest.raises(CensusRejected) as caught:
        await import_census(db, "A", text)
    assert [(p.line, p.code) for p in caught.value.problems] == [(4, code)]
    assert (await _counts(db)) == {"communities": 0, "buildings": 0, "units": 0, "homes": 0, "owners": 0,
                                   "ledger": 0}


async def test_unknown_column_is_reported_on_the_header_line(db: Database) -> None:
    with pytest.raises(CensusRejected) as caught:
        await import_census(db, "A", HEADER.replace("owner_kind", "owner_kind,colour") + GOOD)
    assert [(p.line, p.code, p.detail) for p in caught.value.problems] == [(1, "unknown_column", "colour")]


async def test_every_bad_line_is_listed(db: Database) -> None:
    text = HEADER + "1,1,x,103,1,registry,O1,person\n1,1,1,104,0.001,registry,O2,person\n" + GOOD
    with pytest.raises(CensusRejected) as caught:
        await import_census(db, "A", text)
    assert [(p.line, p.code) for p in caught.value.problems] == [(2, "bad_floor"), (3, "bad_area")]


def test_area_parsing_is_exact() -> None:
    assert parse_area("69.66") == 6966
    assert parse_area("60.8") == 6080
    assert parse_area("100") == 10000
    assert parse_area("0.01") == 1
    assert parse_area("0.00") is None
    assert parse_area("3.999") is None


# --- street scale: streamed checks, chunked writes ----------------------------------------------------


def _street(homes: int, *, dev_kind: str = "developer", area_of: dict[int, str] | None = None) -> str:
    """``homes`` good lines over several write chunks; every 100th home is the developer's."""
    lines = [HEADER]
    for n in range(homes):
        building, unit, floor, room = n // 1000 + 1, n // 250 % 4 + 1, n // 10 % 25 + 1, n % 10 + 1
        owner, kind = ("DEV", dev_kind) if n % 100 == 0 else (f"O{n}", "person")
        area = (area_of or {}).get(n, f"{60 + n % 50}.{n % 100:02d}")
        lines.append(f"{building},{unit},{floor},{floor * 100 + room},{area},registry,{owner},{kind}\n")
    return "".join(lines)


async def _snapshot(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], int]:
    async with db.uow() as uow:
        homes = [tuple(row) for row in await uow.session.execute(
            select(ExclusiveUnit.id, ExclusiveUnit.building_unit_id, ExclusiveUnit.room, ExclusiveUnit.floor,
                   ExclusiveUnit.area_centi, ExclusiveUnit.area_source, ExclusiveUnit.owner_id)
            .order_by(ExclusiveUnit.id))]
        owners = [tuple(row) for row in await uow.session.execute(
            select(Owner.id, Owner.ref, Owner.kind).order_by(Owner.id))]
        ledger = int((await uow.session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one())
    return homes, owners, ledger


@pytest.mark.parametrize("where", [0, 2_500, 4_999])
async def test_a_bad_line_anywhere_in_5000_writes_nothing(db: Database, where: int) -> None:
    # Line numbers count the header as line 1: home n is on line n + 2.
    text = _street(5_000, area_of={where: "0"})
    with pytest.raises(CensusRejected) as caught:
        await import_census(db, "A", text)
    assert [(p.line, p.code) for p in caught.value.problems] == [(where + 2, "bad_area")]
    assert caught.value.total == 1
    assert await _counts(db) == {"communities": 0, "buildings": 0, "units": 0, "homes": 0, "owners": 0, "ledger": 0}


async def test_bad_lines_first_middle_and_last_are_all_listed(db: Database) -> None:
    text = _street(5_000, area_of={0: "0", 2_500: "sixty", 4_999: "60.001"})
    text = text.replace("\n1,1,5,503,", "\n1,1,x,503,", 1)  # home 42 (line 44): a bad floor as well
    with pytest.raises(CensusRejected) as caught:
        await import_census(db, "A", text)
    assert [(p.line, p.code, p.detail) for p in caught.value.problems] == [
        (2, "bad_area", "0"), (44, "bad_floor", "x"), (2_502, "bad_area", "sixty"), (5_001, "bad_area", "60.001")]
    assert (await _counts(db))["homes"] == 0


async def test_problems_beyond_the_listed_bound_are_counted(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.services import census

    monkeypatch.setattr(census, "MAX_LISTED_PROBLEMS", 3)
    text = _street(5_000, area_of={n: "0" for n in range(0, 5_000, 500)})  # 10 bad lines
    with pytest.raises(CensusRejected) as caught:
        await import_census(db, "A", text)
    assert [p.line for p in caught.value.problems] == [2, 502, 1_002]
    assert caught.value.total == 10 and caught.value.params == {"count": 10}
    assert (await _counts(db))["homes"] == 0


async def test_unchanged_street_reimport_changes_no_row_and_no_ledger_entry(db: Database) -> None:
    text = _street(5_000)
    first = await import_census(db, "A", text)
    # 1 community + 4,951 owners (4,950 people and the developer) + 5,000 homes.
    assert (first.created, first.updated, first.unchanged) == (1 + 4_951 + 5_000, 0, 0)
    assert await _counts(db) == {"communities": 1, "buildings": 5, "units": 20, "homes": 5_000, "owners": 4_951,
                                 "ledger": 1}
    before = await _snapshot(db)
    again = await import_census(db, "A", text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5_000)
    assert await _snapshot(db) == before


async def test_changes_across_chunks_are_written_once(db: Database) -> None:
    await import_census(db, "A", _street(5_000, dev_kind="person"))
    # Two areas in different chunks, and the developer (in every chunk) was recorded as a person.
    report = await import_census(db, "A", _street(5_000, area_of={1: "99.99", 4_321: "12.34"}))
    assert (report.created, report.updated, report.unchanged) == (0, 2 + 1, 4_998)
    async with db.uow() as uow:
        kinds = dict((await uow.session.execute(select(Owner.ref, Owner.kind).where(Owner.ref == "DEV"))).all())
        areas = sorted((await uow.session.execute(
            select(ExclusiveUnit.area_centi).where(ExclusiveUnit.area_centi.in_([9999, 1234])))).scalars())
    assert kinds == {"DEV": "developer"} and areas == [1234, 9999]
    assert (await _counts(db))["ledger"] == 2


async def test_a_file_that_changes_between_check_and_write_writes_nothing(db: Database) -> None:
    import io
    from contextlib import nullcontext

    from bot.services.census import CensusChanged, import_census_lines

    versions = iter([_street(3_000), _street(3_000, area_of={2_999: "sixty"})])
    with pytest.raises(CensusChanged):
        await import_census_lines(db, "A", lambda: nullcontext(io.StringIO(next(versions), newline="")))
    assert await _counts(db) == {"communities": 0, "buildings": 0, "units": 0, "homes": 0, "owners": 0, "ledger": 0}
