"""Requests: a seeded month of 40 requests and its three rates, hand-computed; the command line; suggestions."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.deliberation.errors import InvalidInput
from bot.deliberation.requests import Rating, RequestAction
from bot.services import requests as service
from bot.services.census import issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.storage import Database
from tests.cli.test_cli import yishi

SH = ZoneInfo("Asia/Shanghai")
AUTHOR = Actor("telegram", "1", "Owner 1")
FIXER = Actor("telegram", "71", "Property")
GRID = Actor("telegram", "81", "Grid")


@pytest.fixture
async def month(db: Database, community: str) -> str:
    """December 2026: 40 requests, reported two a day from Dec 1, 10:00, handled as the table below says.

    i % 10 < 7: repair (PropertyCo), else noise (Grid): 28 and 12.
    Response: i % 5 == 0 none (8), i % 5 == 1 after 26 h, late (8), else after 1 h (24 on time).
    Resolved when responded and i % 4 != 3 (24), 8 days after the report when i % 8 == 2 (late: 2, 18, 26, 34),
    else 2 days after. Rating: i % 3 == 0 satisfied, 1 basic, 2: unsatisfied twice (even i: reopened once, then
    closed 不满意) or no rating in 3 days (odd i).
    """
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community, "3-2")}
    await redeem_code(db, "telegram", "1", codes["3-2-101"])
    await add_council_member(db, community, "telegram", "9000")
    await service.configure(db, community, parties=[("PropertyCo", "property"), ("Grid", "grid")],
                            routes=[("repair", "PropertyCo"), ("noise", "Grid")])
    await service.add_handler(db, community, "telegram", FIXER.external_id, "PropertyCo")
    await service.add_handler(db, community, "telegram", GRID.external_id, "Grid")
    for i in range(40):
        t0 = datetime(2026, 12, 1 + i // 2, 10, 0, tzinfo=SH)
        repair = i % 10 < 7
        who = FIXER if repair else GRID
        out = await service.report(db, AUTHOR, "repair" if repair else "noise", "3-2", f"Problem number {i}",
                                   now=t0)
        rid = out.request.id
        assert rid == i + 1
        if i % 5 == 0:
            continue
        await service.handle(db, who, rid, RequestAction.TAKE, now=t0 + timedelta(hours=26 if i % 5 == 1 else 1))
        if i % 4 == 3:
            continue
        delay = timedelta(days=8 if i % 8 == 2 else 2)
        done = t0 + delay
        await service.handle(db, who, rid, RequestAction.RESOLVE, "Fixed", now=done)
        if i % 3 == 0:
            await service.rate(db, AUTHOR, rid, Rating.SATISFIED, now=done + timedelta(hours=1))
        elif i % 3 == 1:
            await service.rate(db, AUTHOR, rid, Rating.BASIC, now=done + timedelta(hours=1))
        elif i % 2 == 0:
            await service.reopen(db, AUTHOR, rid, "Still broken", now=done + timedelta(hours=1))
            again = done + timedelta(hours=1) + delay
            await service.handle(db, who, rid, RequestAction.RESOLVE, "Fixed again", now=again)
            closed = await service.reopen(db, AUTHOR, rid, "Still broken", now=again + timedelta(hours=1))
            assert closed.request.state == "closed" and closed.request.rating == "unsatisfied"
        else:
            assert await service.run_clock(db, rid, done + timedelta(days=3), quiet=False) == []
    # Just outside the month, either side (community time): not counted.
    await service.report(db, AUTHOR, "repair", "3-2", "November", now=datetime(2026, 11, 30, 23, 59, tzinfo=SH))
    await service.report(db, AUTHOR, "repair", "3-2", "January", now=datetime(2027, 1, 1, 0, 0, tzinfo=SH))
    return community


async def test_the_three_rates_of_a_seeded_month(db: Database, month: str) -> None:
    rows = {(r.group, r.name): r.rates for r in await service.stats(db, month, "2026-12", SH)}
    overall = rows[("all", "all")]
    # Hand-computed (see the fixture): 24 of 40 answered on time; 24 resolved of which 4 late; ratings
    # satisfied 8 (i = 6, 9, 12, 18, 21, 24, 33, 36), basic 8, unsatisfied 6, not rated 2 (i = 17, 29).
    assert (overall.received, overall.responded_on_time, overall.resolved_on_time) == (40, 24, 20)
    assert (overall.satisfied, overall.basic, overall.unsatisfied, overall.not_rated) == (8, 8, 6, 2)
    assert overall.response_rate == Fraction(3, 5)
    assert overall.resolution_rate == Fraction(1, 2)
    assert overall.satisfaction_rate == Fraction(8, 11)  # 16 of 22 rated; the 2 not rated are not satisfied
    repair, noise = rows[("category", "repair")], rows[("category", "noise")]
    assert (repair.response_rate, repair.resolution_rate, repair.satisfaction_rate) == (
        Fraction(3, 7), Fraction(13, 28), Fraction(3, 4))
    assert (noise.response_rate, noise.resolution_rate, noise.satisfaction_rate) == (
        Fraction(1), Fraction(7, 12), Fraction(2, 3))
    assert rows[("party", "PropertyCo")] == repair and rows[("party", "Grid")] == noise
    empty = {(r.group, r.name): r.rates for r in await service.stats(db, month, "2026-10", SH)}
    assert empty[("all", "all")].response_rate is None


async def test_stats_on_the_command_line(db: Database, month: str, tmp_path: Path, database_url: str) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    table = yishi(tmp_path, "complaints", "stats", "--community", month, "--month", "2026-12")
    assert table.returncode == 0, table.stderr
    assert "60.00%" in table.stdout and "50.00%" in table.stdout and "72.73%" in table.stdout
    as_json = yishi(tmp_path, "complaints", "stats", "--community", month, "--month", "2026-12", "--format", "json")
    first = json.loads(as_json.stdout)["rows"][0]
    assert (first["response_rate"], first["resolution_rate"], first["satisfaction_rate"]) == ("3/5", "1/2", "8/11")
    as_csv = yishi(tmp_path, "complaints", "stats", "--community", month, "--month", "2026-12", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["group"], r["name"], r["received"]) for r in rows] == [
        ("all", "all", "40"), ("party", "Grid", "12"), ("party", "PropertyCo", "28"), ("category", "noise", "12"),
        ("category", "repair", "28")]
    bad = yishi(tmp_path, "complaints", "stats", "--community", month, "--month", "2026-13")
    assert bad.returncode == 1


async def test_configuration_and_handlers_on_the_command_line(db: Database, community: str, tmp_path: Path,
                                                             database_url: str) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    shown = yishi(tmp_path, "complaints", "config", "--community", community)
    assert shown.returncode == 0, shown.stderr
    assert "response_hours: 24" in shown.stdout and "repair=-" in shown.stdout
    changed = yishi(tmp_path, "complaints", "config", "--community", community, "--party", "PropertyCo:property",
                    "--party", "Street:street", "--route", "repair=PropertyCo", "--route", "greening=PropertyCo",
                    "--remove-category", "parking", "--street", "Street", "--response-hours", "12")
    assert changed.returncode == 0, changed.stderr
    assert "repair=PropertyCo" in changed.stdout and "greening=PropertyCo" in changed.stdout
    assert "parking" not in changed.stdout and "response_hours: 12" in changed.stdout and "street: Street" in \
        changed.stdout
    assert yishi(tmp_path, "complaints", "config", "--community", community, "--party", "X:wizard").returncode == 1
    assert yishi(tmp_path, "complaints", "config", "--community", community,
                 "--urgent-response-hours", "13").returncode == 1  # urgent may not exceed the ordinary window
    added = yishi(tmp_path, "handlers", "add", "telegram", "71", "--community", community, "--party", "PropertyCo")
    assert added.returncode == 0 and "Handler added." in added.stdout
    again = yishi(tmp_path, "handlers", "add", "telegram", "71", "--community", community, "--party", "PropertyCo")
    assert "nothing changed" in again.stdout
    assert yishi(tmp_path, "handlers", "add", "telegram", "71", "--community", community,
                 "--party", "Nobody").returncode == 1


async def test_configuration_is_validated(db: Database, community: str) -> None:
    with pytest.raises(InvalidInput):
        await service.configure(db, community, resolution_days=0)
    with pytest.raises(InvalidInput):
        await service.configure(db, community, recurring_households=1)
