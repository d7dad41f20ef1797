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
