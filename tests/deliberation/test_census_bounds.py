"""Census rows outside plausible bounds reject the file, each listed with its line."""

from __future__ import annotations

from bot.deliberation.census import CensusBounds, CensusProblem, parse_census

HEADER = "building,unit,floor,room,area_m2,area_source,owner_id,owner_kind\n"


def _rows(*rows: str) -> str:
    return HEADER + "".join(f"{row}\n" for row in rows)


def test_defaults_refuse_a_huge_area_and_a_deep_floor() -> None:
    rows, problems = parse_census(_rows(
        "1,1,1,101,69.66,registry,O1,person",
        "1,1,1,102,9999999.99,registry,O2,person",
        "1,1,-999,103,60.00,registry,O3,person",
        "1,1,101,104,60.00,registry,O4,person",
        "1,1,2,201,1000.01,registry,O5,person",
    ))
    assert [r.line for r in rows] == [2]  # the service writes nothing while any problem is listed
    assert problems == [
        CensusProblem(3, "area_out_of_range", "9999999.99 m2 (at most 1000.00 m2)"),
        CensusProblem(4, "floor_out_of_range", "-999 (allowed -3 to 100)"),
        CensusProblem(5, "floor_out_of_range", "101 (allowed -3 to 100)"),
        CensusProblem(6, "area_out_of_range", "1000.01 m2 (at most 1000.00 m2)"),
    ]


def test_the_bounds_themselves_are_allowed() -> None:
    rows, problems = parse_census(_rows(
        "1,1,-3,B01,1000.00,registry,O1,person",
        "1,1,100,10001,0.01,registry,O2,person",
    ))
    assert problems == []
    assert [(r.floor, r.area_centi) for r in rows] == [(-3, 100_000), (100, 1)]


def test_bounds_are_configurable() -> None:
    text = _rows("1,1,-5,B01,1500.00,registry,O1,person", "1,1,2,201,80.00,registry,O2,person")
    rows, problems = parse_census(text, CensusBounds(max_area_centi=2000 * 100, min_floor=-5, max_floor=40))
    assert problems == [] and len(rows) == 2
    rows, problems = parse_census(text, CensusBounds(max_area_centi=79 * 100, min_floor=0, max_floor=1))
    assert [(p.line, p.code) for p in problems] == [
        (2, "floor_out_of_range"), (2, "area_out_of_range"), (3, "floor_out_of_range"), (3, "area_out_of_range"),
    ]
