"""Live messages end on the state in the database, whatever order presses and edits take.

Concurrent presses on a real runtime over HTTP to the fake Bot API, with the outbox's per-chat
limits on (edits wait for the chat's window and would go out in any order) and off.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import load_settings
from bot.deliberation.scope import Scope
from bot.fakeapi import FakeTelegram
from bot.handlers import render
from bot.handlers.callbacks import encode
from bot.handlers.votes import ballot_actions
from bot.i18n import Translator
from bot.runtime import serve
from bot.services import agenda, voting
from bot.services.census import issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.rooms import bind_room
from bot.storage import Database
from bot.storage.models import BallotPost, Community, Proposal, Support
from tests.e2e.conftest import MODERATOR, TOKEN, World

ALL_ROOM = -1009900  # a room bound to the whole community
FIRST_USER = 70_000
LIMITED = pytest.mark.outbox_limits(chat_per_second=1, group_per_minute=20)
ON_AND_OFF = pytest.mark.parametrize(
    "limits", [pytest.param("limited", marks=LIMITED), pytest.param("unlimited")]
)


def homes_of_distinct_owners(census: str) -> Iterator[str]:
    """Homes (building-unit-room) of different people: each is one household and one head."""
    seen: set[str] = set()
    for row in csv.DictReader(io.StringIO(census)):
        if row["owner_kind"] == "person" and row["owner_id"] not in seen:
            seen.add(row["owner_id"])
            yield f"{row['building']}-{row['unit']}-{row['room']}"


async def residents(fake: FakeTelegram, db: Database, codes: dict[str, str], census: str, count: int) -> list[int]:
    """``count`` owners of different homes, registered and in the community-wide room."""
    users = []
    for i, home in zip(range(count), homes_of_distinct_owners(census), strict=False):
        user = FIRST_USER + i
        fake.add_user(user, f"Resident {i}", language_code="en")
        await redeem_code(db, "telegram", str(user), codes[home])
        users.append(user)
    assert len(users) == count
    fake.add_group(ALL_ROOM, "Whole compound", members=[MODERATOR, *users], admins=[MODERATOR])
    return users


async def shows(w: World, message_id: int, expected: str, timeout: float = 60.0) -> str:
    """The message once it shows ``expected`` and every refresh has finished: what it finally shows.

    (A toast goes out before its press touches the message, so the last refresh may start after it.)
    """
    with contextlib.suppress(TimeoutError):  # compared by the caller, with the difference shown
        await w.fake.wait_for(lambda: w.fake.message(ALL_ROOM, message_id).text == expected, timeout)
    deadline = time.monotonic() + timeout
    while not w.app.live.idle:
        assert time.monotonic() < deadline, "live messages still refreshing"
        await asyncio.sleep(0.05)
    return w.fake.message(ALL_ROOM, message_id).text or ""


@pytest.fixture
def network(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Telegram's network as it is: answers to presses come back in another order than the presses
    (the first press is answered last) and an edit can overtake an earlier one. Returns the press order
    table."""
    order: dict[str, float] = {}
    original = world.fake.call_api
    edits: list[Any] = []

    async def slowed(token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method.lower() == "answercallbackquery":
            # Spread over 2 s: well inside the runtimes' read timeouts (PTB: 5 s).
            later = len(order) - order.get(str(params.get("callback_query_id")), 0)
            await asyncio.sleep(2.0 * later / max(len(order), 20))
        elif method.lower() == "editmessagetext":
            edits.append(params.get("text"))  # the first edits are the slowest: later ones overtake them
            await asyncio.sleep(max(0.0, 0.5 - 0.05 * len(edits)))
        return await original(token, method, params)

    monkeypatch.setattr(world.fake, "call_api", slowed)
    return order


async def press_all(w: World, presses: list[tuple[int, int, str]], order: dict[str, float]) -> list[str]:
    """Every press at once (one getUpdates batch); the toasts."""
    queries = [w.fake.press_button(user, ALL_ROOM, message_id, data) for user, message_id, data in presses]
    order.update({query: index for index, query in enumerate(queries)})
    answers = await asyncio.gather(*(w.fake.wait_for_callback_answer(q, timeout=60.0) for q in queries))
    return [a.text or "" for a in answers]


def keyboard(actions: Any) -> list[str]:
    return [action.data for row in actions for action in row if action.data]


@ON_AND_OFF
async def test_twenty_concurrent_cosigns_leave_the_card_showing_the_database(
    world: World, network: dict[str, float], sample_census_text: str, limits: str
) -> None:
    w = world
    author, *cosigners = await residents(w.fake, w.db, w.codes, sample_census_text, 21)
    async with w.db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 21  # reached by the 20th
    assert "全体" in (await w.say(MODERATOR, ALL_ROOM, "/bind all")).text  # the room speaks Chinese by default
    await w.say(MODERATOR, ALL_ROOM, "/lang en")  # the room's language: its card is in English
    card = await w.say(author, ALL_ROOM, "/propose Repaint the bicycle shed\nThe paint is peeling.")
    assert "1/21" in card.text
    toasts = await press_all(w, [(user, card.message_id, encode("s", 1)) for user in cosigners], network)
    assert sum("Co-signed" in t for t in toasts) == 20
    assert sum("reached 21" in t for t in toasts) == 1

    async with w.db.uow() as uow:
        proposal = (await uow.session.execute(select(Proposal))).scalar_one()
        supports = (await uow.session.execute(select(func.count()).select_from(Support))).scalar_one()
    assert (proposal.state, supports) == ("review", 21)
    i18n = Translator("zh_CN")
    expected = i18n.render(render.proposal_card(proposal, supports, w.app.tz), "en")  # the room's language
    assert await shows(w, card.message_id, expected) == expected
    shown = w.fake.message(ALL_ROOM, card.message_id)
    assert "under review" in shown.text and "21 co-signatures" in shown.text and "/21" not in shown.text
    assert shown.callback_data == []  # no Support button once collecting is over


@ON_AND_OFF
async def test_fifty_concurrent_ballots_leave_the_ballot_message_showing_the_turnout(
    world: World, network: dict[str, float], sample_census_text: str, limits: str
) -> None:
    w = world
    voters = await residents(w.fake, w.db, w.codes, sample_census_text, 50)
    async with w.db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
    assert "全体" in (await w.say(MODERATOR, ALL_ROOM, "/bind all")).text  # the room speaks Chinese by default
    await agenda.propose(w.db, 1, Actor("telegram", str(voters[0])), "Replace the mailboxes", scope="all")
    await w.say(MODERATOR, ALL_ROOM, "/accept 1")
    ballot = await w.say(MODERATOR, ALL_ROOM, "/vote 1 art278 7d")
    positions = ["y", "n", "a"]
    toasts = await press_all(
        w, [(user, ballot.message_id, encode("b", 1, positions[i % 3])) for i, user in enumerate(voters)], network
    )
    assert sum("Recorded" in t for t in toasts) == 50

    vote, standing = await voting.turnout(w.db, 1)
    async with w.db.uow() as uow:
        proposal = await uow.session.get(Proposal, 1)
    assert proposal is not None
    assert standing["participated"]["heads"] == 50
    i18n = Translator("zh_CN")
    expected = i18n.render(render.ballot_post(proposal, vote, standing, w.app.tz), "zh_CN")
    assert await shows(w, ballot.message_id, expected) == expected
    shown = w.fake.message(ALL_ROOM, ballot.message_id)
    assert f"参与人数：50/{standing['eligible']['heads']} 人" in shown.text
    assert shown.callback_data == keyboard(ballot_actions(vote, lambda t: i18n.render(t, "zh_CN")))


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_ballot_messages_are_refreshed_at_start_up(
    db: Database, community: str, sample_census_text: str, runtime: str
) -> None:
    """Ballots stored while the bot was down (or whose edits a crash lost) show once it starts."""
    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        fake.add_user(MODERATOR, "Moderator Li", language_code="en")
        await add_council_member(db, community, "telegram", str(MODERATOR))
        codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community)}
        voters = await residents(fake, db, codes, sample_census_text, 12)
        moderator = Actor("telegram", str(MODERATOR))
        await bind_room(db, "telegram", str(ALL_ROOM), "", 1, Scope.parse("all"), moderator)
        async with db.uow() as uow:
            (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
        proposal = (await agenda.propose(db, 1, Actor("telegram", str(voters[0])), "New bike racks")).proposal
        assert proposal is not None and proposal.id is not None
        await agenda.accept(db, proposal.id, moderator)
        vote = await voting.open_vote(db, proposal.id, moderator, "art278", 7)
        assert vote.id is not None
        # The ballot message as the bot posted it before it went down: nobody had voted yet.
        status, envelope = await fake.call_api(TOKEN, "sendMessage", {
            "chat_id": ALL_ROOM, "text": "参与人数：0/138 人（0.00%）",
            "reply_markup": {"inline_keyboard": [[{"text": "赞成", "callback_data": encode("b", vote.id, "y")}]]},
        })
        assert status == 200, envelope
        message_id = envelope["result"]["message_id"]
        async with db.uow() as uow:
            uow.session.add(BallotPost(vote_id=vote.id, platform="telegram", chat_id=str(ALL_ROOM),
                                       message_id=str(message_id), locale="zh_CN"))
        for voter in voters:  # stored, but the bot never edited the message for them
            await voting.cast_ballot(db, vote.id, Actor("telegram", str(voter)), "yes")

        settings = load_settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.api_base, TRANSPORT=runtime,
                                 DATABASE_URL=db.url, SCHEDULER_ENABLED=False, WEB_PORT=0)
        stop, ready = asyncio.Event(), asyncio.Event()
        running = asyncio.create_task(serve(settings, stop=stop, ready=ready))
        try:
            await asyncio.wait_for(ready.wait(), 30)
            _vote, standing = await voting.turnout(db, vote.id)
            assert standing["participated"]["heads"] == 12
            expected = Translator("zh_CN").render(render.ballot_post(proposal, _vote, standing, settings.tz), "zh_CN")
            await fake.wait_for(lambda: fake.message(ALL_ROOM, message_id).text == expected, timeout=30)
            shown = fake.message(ALL_ROOM, message_id)
            assert f"参与人数：12/{standing['eligible']['heads']} 人" in shown.text
            assert shown.edit_count == 1
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
