"""Two real `yishi run --webhook` workers on one PostgreSQL database, fed the same updates at once.

A Telegram retry that reaches a second worker while the first is still working (or two load-balanced
workers given the same delivery) is handled once: one reply, one ballot, one ledger entry.
"""

from __future__ import annotations

import asyncio
import copy
import re
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update

from bot.services.census import redeem_code
from bot.storage.models import Ballot, Community, LedgerEntry, Proposal
from tests.conftest import TEST_DATABASE_URL
from tests.support.live import GROUP, MODERATOR, LiveBot, live_bot

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"), reason="needs TEST_DATABASE_URL (PostgreSQL)"),
]
SECRET = "two-workers-secret"
PRESSERS = {7101 + i: label for i, label in enumerate(["3-2-101", "3-2-102", "3-2-201", "3-2-202", "3-2-301",
                                                       "3-2-302", "3-2-401", "3-2-402"])}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _post_to(http: aiohttp.ClientSession, url: str, update: dict[str, Any]) -> int:
    async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
        return response.status


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_two_webhook_workers_handle_the_same_update_once(
    tmp_path: Path, database_url: str, runtime: str
) -> None:
    async with live_bot(tmp_path, runtime, database_url, start=False, env={"WEBHOOK_SECRET": SECRET}) as first:
        fake = first.fake
        for user, label in PRESSERS.items():
            fake.add_user(user, f"Owner {label}", language_code="en")
            fake.add_private_chat(user)
            fake.set_member(GROUP, user, "member")
            await redeem_code(first.db, "telegram", str(user), first.codes[label], f"Owner {label}")
        async with first.db.uow() as uow:
            await uow.session.execute(update(Community).values(support_fixed=1))
        urls = [f"http://127.0.0.1:{port}/hook" for port in (_free_port(), _free_port())]
        await first.start("--webhook", urls[0], extra_env={"WEBHOOK_PORT": urls[0].split(":")[2].split("/")[0]})
        await fake.wait_for(lambda: getattr(fake.webhook(), "url", None) == urls[0], 15)
        (tmp_path / "second").mkdir()
        second = LiveBot(fake, first.db, database_url, runtime, tmp_path / "second", first.codes,
                         {"WEBHOOK_SECRET": SECRET})
        try:
            await second.start("--webhook", urls[1], extra_env={"WEBHOOK_PORT": urls[1].split(":")[2].split("/")[0]})
            # The fake delivers to the second worker; the test posts the same updates to the first.
            await fake.wait_for(lambda: getattr(fake.webhook(), "url", None) == urls[1], 15)
            await first.bind_group(GROUP, "3-2")
            author = next(iter(PRESSERS))
            async with aiohttp.ClientSession() as http:
                # A command: the fake delivers it to one worker while the same update is posted to the other.
                sent = fake.send_text(author, GROUP, "/propose garden lights")
                update_json = copy.deepcopy(fake.pending_updates()[-1])
                assert await _post_to(http, urls[0], update_json) == 200
                card = await fake.wait_for_message(GROUP, lambda m: m.from_bot, 15, after=sent.message_id)
                await asyncio.sleep(1.0)  # time for a second reply, if there were one
                assert len([m for m in fake.messages(GROUP) if m.from_bot and m.message_id > sent.message_id]) == 1
                async with first.db.uow(readonly=True) as uow:
                    assert (await uow.session.execute(select(func.count()).select_from(Proposal))).scalar_one() == 1
                found = re.search(r"#(\d+)", card.text or "")
                assert found, card.text
                accepted = await first.say(MODERATOR, GROUP, f"/accept {found.group(1)}")
                assert "议程" in (accepted.text or "")  # "on the agenda", in the room's language (Chinese)
                ballot = await first.say(MODERATOR, GROUP, f"/vote {found.group(1)} art278 5d")
                yes = first.button(ballot, "v1:b:")
                vote_id = int(yes.split(":")[2])

                # Ballot presses, each delivered to both workers at the same moment.
                toasts_before = fake.stats.calls["answerCallbackQuery"]
                queries = []
                for user in PRESSERS:
                    queries.append(fake.press_button(user, GROUP, ballot.message_id, yes))
                    press = copy.deepcopy(fake.pending_updates()[-1])
                    assert await _post_to(http, urls[0], press) == 200
                for query in queries:
                    await fake.wait_for_callback_answer(query, timeout=15)
                await asyncio.sleep(1.0)  # time for a second answer or a private fallback, if there were one
        finally:
            await second.terminate()
        assert await first.terminate() == 0
        assert fake.stats.calls["answerCallbackQuery"] - toasts_before == len(PRESSERS)  # one toast each
        assert all("Recorded: Yes" in (fake.callback_answer(q).text or "") for q in queries)  # type: ignore[union-attr]
        private = [m for u in PRESSERS for m in fake.messages(u) if m.from_bot and f"#{vote_id}" in (m.text or "")]
        assert private == []  # nobody was answered twice (a refused second toast would fall back to a message)
        async with first.db.uow(readonly=True) as uow:
            ballots = (await uow.session.execute(select(func.count()).select_from(Ballot).where(
                Ballot.vote_id == vote_id))).scalar_one()
            entries = (await uow.session.execute(select(func.count()).select_from(LedgerEntry).where(
                LedgerEntry.subject == f"vote:{vote_id}", LedgerEntry.event == "ballot_cast"))).scalar_one()
        assert (ballots, entries) == (len(PRESSERS), len(PRESSERS))
        assert "Traceback" not in first.logs() + second.logs()
