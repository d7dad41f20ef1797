"""Census rows: the homes, their areas and owners, validated before anything is stored.

Area comes from the registry, else a survey, else the sales contract
(Interpretation on building co-ownership, Art. 8); the source is kept with it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.deliberation.numbers import format_hundredths

COLUMNS = ("building", "unit", "floor", "room", "area_m2", "area_source", "owner_id", "owner_kind")
AREA_SOURCES = ("registry", "survey", "contract")
OWNER_KINDS = ("person", "developer")

_AREA_RE = re.compile(r"^(?P<whole>[0-9]{1,7})(?:\.(?P<frac>[0-9]{1,2}))?$")
_LABEL_RE = re.compile(r"^[0-9A-Za-z]{1,8}$")
_OWNER_RE = re.compile(r"^[0-9A-Za-z_.:-]{1,64}$")
_FLOOR_RE = re.compile(r"-?[0-9]{1,3}")


@dataclass(frozen=True, slots=True)
class CensusRow:
    line: int
    building: str
    unit: str
    floor: int
    room: str
    area_centi: int
    area_source: str
    owner_ref: str
    owner_kind: str


@dataclass(frozen=True, slots=True)
class CensusBounds:
    """Plausible values for one home: a typo (9,999,999.99 m², floor -999) would skew every tally.

    Areas are compared in hundredths of m² (integers); floors below ground are negative.
    """

    max_area_centi: int = 1000 * 100
    min_floor: int = -3
    max_floor: int = 100


@dataclass(frozen=True, slots=True)
class CensusProblem:
    line: int
    code: str  # unknown_column | missing_column | bad_area | area_out_of_range | bad_floor | floor_out_of_range | ...
    detail: str


def parse_area(text: str) -> int | None:
    """Square metres with at most two decimals -> hundredths, or None if not a positive number."""
    match = _AREA_RE.match(text.strip())
    if match is None:
        return None
    centi = int(match.group("whole")) * 100 + int((match.group("frac") or "").ljust(2, "0"))
    return centi if centi > 0 else None


def parse_census(text: str, bounds: CensusBounds | None = None) -> tuple[list[CensusRow], list[CensusProblem]]:
    """Parse a census CSV; every problem is listed with its line number (the header is line 1)."""
    rows: list[CensusRow] = []
    problems: list[CensusProblem] = []
    for item in scan_census(io.StringIO(text, newline=""), bounds):
        if isinstance(item, CensusRow):
            rows.append(item)
        else:
            problems.append(item)
    return rows, problems


def scan_census(lines: Iterable[str], bounds: CensusBounds | None = None) -> Iterator[CensusRow | CensusProblem]:
    """Stream a census CSV: each good row, and each problem with its line number (the header is line 1).

    Lines are read one at a time (a file opened with ``newline=""`` works), so a street of 100,000 homes is
    never held whole; only the keys needed to catch a repeated room or an owner of two kinds are kept.
    ``lines`` may start with a byte-order mark.
    """
    bounds = bounds or CensusBounds()
    problems: list[CensusProblem] = []
    reader = csv.reader(_without_bom(lines))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        yield CensusProblem(1, "empty_file", "no header line")
        return
    for name in header:
        if name not in COLUMNS:
            problems.append(CensusProblem(1, "unknown_column", name))
    for name in COLUMNS:
        if name not in header:
            problems.append(CensusProblem(1, "missing_column", name))
    if len(set(header)) != len(header):
        problems.append(CensusProblem(1, "duplicate_column", ",".join(header)))
    if problems:
        yield from problems
        return

    order = [header.index(name) for name in COLUMNS]
    # One short string a room ("3\x1f2\x1f501"): the smallest key that still names the first line.
    seen_rooms: dict[str, int] = {}
    owner_kinds: dict[str, tuple[str, int]] = {}
    any_row = any_problem = False
    for index, values in enumerate(reader, start=2):
        if not "".join(values).strip():
            continue
        if len(values) != len(header):
            any_problem = True
            yield CensusProblem(index, "wrong_field_count", f"{len(values)} fields, {len(header)} expected")
            continue
        record = dict(zip(COLUMNS, [values[i].strip() for i in order], strict=True))
        line_problems: list[CensusProblem] = []
        for name in ("building", "unit", "room"):
            if not _LABEL_RE.match(record[name]):
                line_problems.append(CensusProblem(index, f"bad_{name}", record[name]))
        floor_text = record["floor"]
        floor = int(floor_text) if _FLOOR_RE.fullmatch(floor_text) else None
        if floor is None:
            line_problems.append(CensusProblem(index, "bad_floor", floor_text))
        elif not bounds.min_floor <= floor <= bounds.max_floor:
            line_problems.append(CensusProblem(
                index, "floor_out_of_range", f"{floor} (allowed {bounds.min_floor} to {bounds.max_floor})"))
        area = parse_area(record["area_m2"])
        if area is None:
            line_problems.append(CensusProblem(index, "bad_area", record["area_m2"]))
        elif area > bounds.max_area_centi:
            line_problems.append(CensusProblem(
                index, "area_out_of_range",
                f"{record['area_m2']} m2 (at most {format_hundredths(bounds.max_area_centi)} m2)"))
        if record["area_source"] not in AREA_SOURCES:
            line_problems.append(CensusProblem(index, "bad_area_source", record["area_source"]))
        if not _OWNER_RE.match(record["owner_id"]):
            line_problems.append(CensusProblem(index, "bad_owner_id", record["owner_id"]))
        kind = record["owner_kind"]
        if kind not in OWNER_KINDS:
            line_problems.append(CensusProblem(index, "bad_owner_kind", kind))
        elif record["owner_id"] in owner_kinds and owner_kinds[record["owner_id"]][0] != kind:
            first_kind, first_line = owner_kinds[record["owner_id"]]
            line_problems.append(CensusProblem(index, "owner_kind_conflict", f"{first_kind} on line {first_line}"))
        else:
            owner_kinds.setdefault(record["owner_id"], (kind, index))
        room_key = "\x1f".join((record["building"], record["unit"], record["room"]))
        first_room_line = seen_rooms.setdefault(room_key, index)
        if first_room_line != index:
            label = "-".join((record["building"], record["unit"], record["room"]))
            line_problems.append(CensusProblem(index, "duplicate_room", f"{label} first on line {first_room_line}"))
        if line_problems:
            any_problem = True
            yield from line_problems
            continue
        assert floor is not None and area is not None
        any_row = True
        yield CensusRow(index, record["building"], record["unit"], floor, record["room"], area,
                        record["area_source"], record["owner_id"], kind)
    if not any_row and not any_problem:
        yield CensusProblem(2, "no_rows", "the file has a header but no homes")


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    first = True
    for line in lines:
        if first:
            line = line.lstrip("\ufeff")
            first = False
        yield line
