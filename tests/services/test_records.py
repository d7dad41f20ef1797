"""The council's documents for the sample compound's elevator vote, read back and checked against `yishi export`."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from fontTools.ttLib import TTCollection
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from bot.deliberation.errors import InvalidInput, NotEligible, NotFound
from bot.i18n import Translator
from bot.records.fonts import FONT_PATH, SUBFONT
from bot.services import agenda, records, voting
from bot.services.council import add_council_member
from bot.services.export import export_data
from bot.storage import Database
from bot.storage.models import Community
from tests.services.conftest import MODERATOR, T0, census, resident

TZ = ZoneInfo("Asia/Shanghai")
ROOMS = ["101", "102", "201", "202", "301", "302", "401", "402", "501", "502", "601", "602"]


def _cmap() -> set[int]:
    return set(TTCollection(str(FONT_PATH)).fonts[SUBFONT].getBestCmap())


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def assert_every_glyph(text: str) -> None:
    cmap = _cmap()
    missing = {ch for ch in text if not ch.isspace() and ord(ch) not in cmap}
    assert not missing, missing


async def _elevator_vote(db: Database, community: str, link, *, close: bool = True) -> tuple[int, int]:
    await add_council_member(db, community, MODERATOR.platform, MODERATOR.external_id)
    async with db.uow() as uow:
        cid = (await uow.session.execute(select(Community.id).where(Community.name == community))).scalar_one()
    voters = {room: await link(cid, f"3-2-{room}", 3200 + i) for i, room in enumerate(ROOMS, start=1)}
    pid = (await agenda.propose(db, cid, voters["101"], "3号楼2单元加装电梯", scope="3-2", category="elevator",
                                now=T0)).proposal.id
    for room in ("102", "201", "202", "301"):
        await agenda.support(db, pid, voters[room], now=T0)
    await agenda.accept(db, pid, MODERATOR, now=T0)
    vote = await voting.open_vote(db, pid, MODERATOR, "elevator", 10, now=T0)
    choices = {"101": "no", "102": "yes", "201": "yes", "202": "yes", "301": "yes", "302": "yes", "401": "yes",
               "402": "abstain", "501": "yes", "601": "yes"}
    for room, choice in choices.items():
        await voting.cast_ballot(db, vote.id, voters[room], choice, now=T0 + timedelta(hours=1))
    if close:
        await voting.close_vote(db, vote.id, MODERATOR, now=T0 + timedelta(days=10))
    return pid, vote.id


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_announcement_prints_the_exported_figures(db: Database, community: str, link, locale: str) -> None:
    pid, vid = await _elevator_vote(db, community, link)
    exported = (await export_data(db, pid))
    result = exported["proposals"][0]["votes"][0]["result"]
    doc = await records.announcement(db, pid, Translator("zh_CN"), locale, TZ, actor=MODERATOR,
                                     now=T0 + timedelta(days=10))
    assert doc.content.startswith(b"%PDF") and doc.filename == f"announcement-{pid}-vote-{vid}.pdf"
    text = pdf_text(doc.content)
    assert_every_glyph(text)
    flat = text.replace("\n", " ")
    # 10 of 12 homes took part; 8 yes, 1 no, 1 abstain; the areas are exact sums of the census.
    assert (result["eligible"], result["participated"]) == ({"heads": 12, "area_m2": "708.67"},
                                                           {"heads": 10, "area_m2": "601.79"})
    assert (result["yes"], result["no"], result["abstain"]) == (
        {"heads": 8, "area_m2": "479.82"}, {"heads": 1, "area_m2": "63.98"}, {"heads": 1, "area_m2": "57.99"})
    for measure in ("eligible", "participated", "yes", "no", "abstain"):
        assert f"{result[measure]['heads']} {result[measure]['area_m2']}" in flat
    for criterion in result["criteria"]:
        assert str(criterion["actual"]) in flat and str(criterion["required"]) in flat
    assert exported["ledger_head"]["hash"] in flat.replace(" ", "")
    assert "幸福里" in text and "3号楼2单元加装电梯" in text
    if locale == "zh_CN":
        assert "民法典" in text and "第二百七十八条" in text and "表决结果公告" in text
        assert ("通过" in text) and "2026-11-12" in text  # closed 10 days after T0, Beijing time
    else:
        assert "Civil Code of the PRC, Article 278, items 6 to 8" in flat and "is adopted" in flat


async def test_register_rows_and_totals_equal_the_result(db: Database, community: str, link) -> None:
    pid, vid = await _elevator_vote(db, community, link)
    result = (await export_data(db, pid))["proposals"][0]["votes"][0]["result"]
    doc = await records.register(db, pid, Translator("zh_CN"), "en", TZ)
    sheet = load_workbook(io.BytesIO(doc.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[1]
    assert header[:4] == ("Building", "Unit", "Room", "Area (m²)")
    homes = [r for r in rows[2:] if r and r[0] == "3"]
    assert [r[2] for r in homes] == ROOMS and len(homes) == 12
    assert sum(Decimal(str(r[3])) for r in homes) == Decimal("708.67")
    assert [r[6] for r in homes].count("Yes") == 8 and [r[7] for r in homes].count("chat") == 10
    by_name = {r[0]: (r[1], Decimal(str(r[2])).quantize(Decimal("0.01"))) for r in rows if r and r[0] in (
        "Eligible", "Took part", "Yes", "No", "Abstain")}
    for name, measure in (("Eligible", "eligible"), ("Took part", "participated"), ("Yes", "yes"), ("No", "no"),
                          ("Abstain", "abstain")):
        assert by_name[name] == (result[measure]["heads"], Decimal(result[measure]["area_m2"])), name


async def test_register_marks_multi_home_owners_and_writes_formulas_as_text(db: Database, make_community,
                                                                             link) -> None:
    homes = census(("1-1", "101", 1, "80.00", "O1", "person"), ("1-1", "102", 1, "40.50", "O1", "person"),
                   ("1-1", "201", 2, "60.00", "O2", "person"))
    cid = await make_community(homes, name="Formula", support_fixed=1)
    a = await link(cid, "1-1-101", 1)
    await link(cid, "1-1-201", 2)
    pid = (await agenda.propose(db, cid, a, "=HYPERLINK(\"http://x\")", scope="1-1", now=T0)).proposal.id
    await agenda.accept(db, pid, MODERATOR, now=T0)
    vote = await voting.open_vote(db, pid, MODERATOR, "art278", 7, now=T0)
    await voting.cast_ballot(db, vote.id, a, "yes", now=T0)
    await voting.paper_ballot(db, vote.id, MODERATOR, "1-1-201", "no", "@SUM(1+1) signed sheet", now=T0)
    await voting.close_vote(db, vote.id, MODERATOR, now=T0 + timedelta(days=7))
    doc = await records.register(db, pid, Translator("zh_CN"), "en", TZ)
    book = load_workbook(io.BytesIO(doc.content))
    sheet = book.active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert sheet["A1"].value.startswith("Register of the vote") and "=HYPERLINK" in sheet["A1"].value
    rows = list(sheet.iter_rows(min_row=3, max_row=5, values_only=True))
    assert [(r[2], r[4], r[5]) for r in rows] == [("101", "O1 (owns 2 homes)", 2), ("102", "O1 (owns 2 homes)", 2),
                                                  ("201", "O2", 1)]
    totals = {r[0]: (r[1], r[2]) for r in sheet.iter_rows(values_only=True) if r and r[0] in ("Eligible", "Yes")}
    assert totals["Eligible"] == (2, 180.5) and totals["Yes"] == (1, 120.5)
    paper = next(r for r in sheet.iter_rows(values_only=True) if r and r[2] == "201")
    assert (paper[6], paper[7], paper[8]) == ("No", "paper", "'@SUM(1+1) signed sheet")


async def test_bad_input_writes_nothing(db: Database, community: str, link) -> None:
    pid, vid = await _elevator_vote(db, community, link, close=False)
    tr = Translator("zh_CN")
    with pytest.raises(NotFound):
        await records.announcement(db, 999, tr, "en", TZ)
    with pytest.raises(InvalidInput) as refused:
        await records.announcement(db, pid, tr, "en", TZ)
    assert refused.value.params["reason"] == "vote_open"
    with pytest.raises(InvalidInput):
        await records.register(db, pid, tr, "en", TZ)
    await voting.close_vote(db, vid, MODERATOR, now=T0 + timedelta(days=10))
    with pytest.raises(NotEligible):
        await records.announcement(db, pid, tr, "en", TZ, actor=resident(3201))


async def test_the_command_line_writes_both_documents(db: Database, community: str, link, database_url: str,
                                                      tmp_path) -> None:
    import asyncio

    from tests.cli.test_cli import yishi

    pid, _vid = await _elevator_vote(db, community, link)
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    pdf, xlsx = tmp_path / "a.pdf", tmp_path / "r.xlsx"
    made = await asyncio.to_thread(yishi, tmp_path, "records", "announcement", "--proposal", str(pid), "-o", str(pdf))
    assert made.returncode == 0, made.stderr
    text = pdf_text(pdf.read_bytes())
    assert "表决结果公告" in text and "708.67" in text
    made = await asyncio.to_thread(yishi, tmp_path, "records", "register", "--proposal", str(pid), "-o", str(xlsx),
                                   "--lang", "en")
    assert made.returncode == 0, made.stderr
    assert load_workbook(xlsx).active.cell(2, 1).value == "Building"


async def test_the_command_line_refuses_an_open_vote(db: Database, community: str, link, database_url: str,
                                                     tmp_path) -> None:
    import asyncio

    from tests.cli.test_cli import yishi

    pid, _vid = await _elevator_vote(db, community, link, close=False)
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    made = await asyncio.to_thread(yishi, tmp_path, "records", "announcement", "--proposal", str(pid),
                                   "-o", str(tmp_path / "a.pdf"))
    assert made.returncode == 1 and "still open" in made.stderr and not (tmp_path / "a.pdf").exists()
