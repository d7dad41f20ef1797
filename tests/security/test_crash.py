"""A real `yishi run` killed (SIGKILL) or stopped (SIGTERM) during a burst of 50 ballot presses.

Each round opens a new vote, 25 owners each press Yes and then No (50 presses in one burst, all in
the fake Telegram at once), and the process dies 0-180 ms later. After a restart on the same
database, every press is recorded exactly once and in order (each ballot ends on No, revision 2,
two ledger entries per owner), and every presser got a toast or a private confirmation.
"""

from __future__ import annotations

import asyncio
import csv
import re
import signal
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.fakeapi.server import StoredMessage
from bot.services.census import redeem_code
from bot.storage.models import Ballot, Community, InboxUpdate, LedgerEntry
from tests.support.live import GROUP, MODERATOR, SAMPLE_CENSUS, LiveBot, live_bot

PRESSERS = list(range(7001, 7026))  # 25 owners, each pressing twice: 50 presses
TOPICS = ["garden lights", "bike shed roof", "water pump", "gate camera", "parking lines", "trash sorting",
          "hallway paint", "playground sand", "mailbox wall", "notice board", "window seals", "drain covers"]
# (seconds after the burst, signal): ten kills at different moments, and a clean stop mid-burst.
MOMENTS = [(0.02 * i, signal.SIGKILL) for i in range(10)] + [(0.05, signal.SIGTERM)]


def _single_home_labels(count: int) -> list[str]:
    """Homes whose owner holds no other home: one owner, one elector, one ballot."""
    rows = list(csv.DictReader(SAMPLE_CENSUS.open(encoding="utf-8")))
    homes = Counter(row["owner_id"] for row in rows)
    return [f"{r['building']}-{r['unit']}-{r['room']}" for r in rows
            if homes[r["owner_id"]] == 1 and r["owner_kind"] == "person"][:count]


async def _scene(bot: LiveBot) -> None:
    fake = bot.fake
    for user, label in zip(PRESSERS, _single_home_labels(len(PRESSERS)), strict=True):
        fake.add_user(user, f"Owner {label}", language_code="en")
        fake.add_private_chat(user)
        fake.set_member(GROUP, user, "member")
        await redeem_code(bot.db, "telegram", str(user), bot.codes[label], f"Owner {label}")
    async with bot.db.uow() as uow:  # the author's own co-signature puts a matter in review
        await uow.session.execute(update(Community).values(support_fixed=1))


async def _open_vote(bot: LiveBot, round_no: int) -> tuple[int, StoredMessage]:
    card = await bot.say(PRESSERS[0], GROUP, f"/propose {TOPICS[round_no]}")
    found = re.search(r"#(\d+)", card.text or "")
    assert found, card.text
    proposal = int(found.group(1))
    assert "议程" in ((await bot.say(MODERATOR, GROUP, f"/accept {proposal}")).text or "")  # the room's language
    ballot = await bot.say(MODERATOR, GROUP, f"/vote {proposal} art278 5d")
    vote_id = int(bot.button(ballot, "v1:b:").split(":")[2])
    return vote_id, ballot


async def _recorded(bot: LiveBot, vote_id: int) -> tuple[dict[str, tuple[str, int]], Counter[str]]:
    async with bot.db.uow(readonly=True) as uow:
        ballots = {b.elector_key: (b.choice, b.revision) for b in (await uow.session.execute(
            select(Ballot).where(Ballot.vote_id == vote_id))).scalars()}
        events = Counter((await uow.session.execute(select(LedgerEntry.event).where(
            LedgerEntry.subject == f"vote:{vote_id}", LedgerEntry.event.in_(  # type: ignore[attr-defined]
                ["ballot_cast", "ballot_changed"])))).scalars())
    return ballots, events


def _answers(bot: LiveBot, vote_id: int, queries: dict[str, int], since: dict[int, int]) -> dict[str, list[str]]:
    """What each press got: its toast, and the private messages sent to its presser since the burst."""
    out: dict[str, list[str]] = {}
    for query, user in queries.items():
        answer = bot.fake.callback_answer(query)
        private = [m.text or "" for m in bot.fake.messages(user)
                   if m.from_bot and m.message_id > since[user] and f"#{vote_id}" in (m.text or "")]
        out[query] = ([answer.text or ""] if answer else []) + private
    return out


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_no_press_lost_or_doubled_when_the_process_dies_mid_burst(
    tmp_path: Path, database_url: str, runtime: str
) -> None:
    async with live_bot(tmp_path, runtime, database_url, start=False) as bot:
        await _scene(bot)
        await bot.start()
        await bot.bind_group(GROUP, "all")
        for round_no, (delay, how) in enumerate(MOMENTS):
            vote_id, ballot = await _open_vote(bot, round_no % len(TOPICS))
            yes, no = bot.button(ballot, f"v1:b:{vote_id}:y"), bot.button(ballot, f"v1:b:{vote_id}:n")
            since = {user: max([m.message_id for m in bot.fake.messages(user)], default=0) for user in PRESSERS}
            queries: dict[str, int] = {}
            for user in PRESSERS:  # no await in between: all 50 wait in the fake together
                queries[bot.fake.press_button(user, GROUP, ballot.message_id, yes)] = user
                queries[bot.fake.press_button(user, GROUP, ballot.message_id, no)] = user
            await asyncio.sleep(delay)
            assert bot.process is not None
            if how == signal.SIGKILL:
                await bot.kill()
            else:
                assert await bot.terminate() == 0
                assert "Traceback" not in bot.log_path.read_text(errors="replace")
            await bot.start()

            async def settled(vote: int = vote_id, asked: dict[str, int] = queries,
                              after: dict[int, int] = since) -> bool:
                ballots, _ = await _recorded(bot, vote)
                # Redelivered updates are confirmed by the restarted process's next poll.
                return (len(ballots) == len(PRESSERS) and all(c == "no" for c, _ in ballots.values())
                        and all(_answers(bot, vote, asked, after).values()) and not bot.fake.pending_updates())

            for _ in range(300):
                if await settled():
                    break
                await asyncio.sleep(0.1)
            ballots, events = await _recorded(bot, vote_id)
            context = f"round {round_no} ({how.name} after {delay * 1000:.0f} ms)"
            # Exactly once and in order: Yes then No for every owner, nothing replayed.
            assert sorted(ballots.values()) == [("no", 2)] * len(PRESSERS), context
            assert events == Counter({"ballot_cast": len(PRESSERS), "ballot_changed": len(PRESSERS)}), context
            answers = _answers(bot, vote_id, queries, since)
            assert all(answers.values()), (context, [q for q, a in answers.items() if not a])
            texts = [text for got in answers.values() for text in got]
            assert not [t for t in texts if "Already recorded" in t or "not recorded" in t], (context, texts)
            assert bot.fake.pending_updates() == [], context
        assert await bot.terminate() == 0
        logs = bot.logs()
        assert "Traceback" not in logs, logs[max(0, logs.find("Traceback") - 400):][:4000]
        async with bot.db.uow(readonly=True) as uow:
            unhandled = (await uow.session.execute(select(func.count()).select_from(InboxUpdate).where(
                InboxUpdate.handled_at.is_(None)))).scalar_one()  # type: ignore[union-attr]
        assert unhandled == 0
