"""Time, end to end: the scheduler and the outbox on a real runtime, the clock moved (never slept through).

A vote opened in the chat reminds its rooms 2 h before it closes, nudges an owner who has not voted,
closes itself at its deadline and posts the result in every room of its scope; the ballot message
loses its buttons. Every message travels jobs -> outbox -> runtime -> fake Bot API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from bot.scheduler.context import JobContext
from bot.scheduler.service import SchedulerService
from bot.storage.models import Vote
from tests.e2e.conftest import GROUP, MODERATOR, OTHER_GROUP, OWNERS, World


async def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.05)


def _bot_texts(w: World, chat: int) -> list[str]:
    return [m.text or "" for m in w.fake.messages(chat) if m.from_bot]


# A Monday, 10:00 in Shanghai: the reminder and nudge fall in the afternoon, outside quiet hours.
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


async def test_a_vote_reminds_nudges_and_closes_itself(world: World) -> None:
    with time_machine.travel(START, tick=True) as clock:
        await _story(world, clock)


async def _story(w: World, clock: time_machine.Coordinates) -> None:
    for room in ("101", "102", "201", "301", "302"):
        await w.say(OWNERS[room], OWNERS[room], f"/register {w.codes[f'3-2-{room}']}")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    await w.say(MODERATOR, OTHER_GROUP, "/bind 3")
    card = await w.say(OWNERS["101"], GROUP, "/propose Paint the stairwell")
    for room in ("102", "201", "301", "302"):
        await w.press(OWNERS[room], GROUP, card, w.button(card, "v1:s:"))
    await w.say(MODERATOR, GROUP, "/accept 1")
    ballot = await w.say(MODERATOR, GROUP, "/vote 1 art278 5d")
    assert "0/12" in ballot.text
    assert "Recorded: Yes" in await w.press(OWNERS["101"], GROUP, ballot, w.button(ballot, "v1:b:1:y"))
    async with w.db.uow(readonly=True) as uow:
        vote = (await uow.session.execute(select(Vote))).scalar_one()
    assert w.app.outbox is not None
    context = JobContext(w.db, w.app.i18n, w.app.tz, wake_outbox=w.app.outbox.wake)
    scheduler = SchedulerService(w.db.url, w.app.tz, context, reconcile_interval=3600, replan_delay=0)

    # Two hours before the close, in the afternoon (outside quiet hours), the scheduler starts.
    clock.move_to(vote.closes_at - timedelta(hours=1, minutes=50))
    await scheduler.start()
    try:
        assert scheduler.scheduler is not None
        scheduler.scheduler.wakeup()
        await _until(lambda: any("1/12" in t for t in _bot_texts(w, OTHER_GROUP)))
        reminder = [t for t in _bot_texts(w, OTHER_GROUP) if "1/12" in t]
        assert len(reminder) == 1 and "#1" in reminder[0]
        assert sum("1/12" in t and "#1" in t for t in _bot_texts(w, GROUP)) >= 1
        # At the nudge job's next quarter hour, owners on the roll who have not voted get a private nudge.
        nudges = scheduler.scheduler.get_job("nudges")
        assert nudges is not None
        clock.move_to(nudges.next_run_time + timedelta(seconds=1))
        scheduler.scheduler.wakeup()
        await _until(lambda: any("#1" in t for t in _bot_texts(w, OWNERS["102"])[1:]))
        assert len(_bot_texts(w, OWNERS["101"])) == 1  # only the answer to /register: it voted

        # The deadline passes: the vote closes itself and both rooms of its scope get the result.
        before = {chat: len(_bot_texts(w, chat)) for chat in (GROUP, OTHER_GROUP)}
        clock.move_to(vote.closes_at + timedelta(seconds=5))
        scheduler.scheduler.wakeup()
        for chat in (GROUP, OTHER_GROUP):
            await _until(lambda chat=chat: len(_bot_texts(w, chat)) > before[chat])
        async with w.db.uow(readonly=True) as uow:
            closed = await uow.session.get(Vote, vote.id)
            assert closed is not None and closed.status == "closed"
        for chat in (GROUP, OTHER_GROUP):
            assert "#1" in _bot_texts(w, chat)[-1]
        await _until(lambda: _ballot_frozen(w, ballot.message_id))
    finally:
        await scheduler.stop()
    assert w.app.outbox.stats.retry_after == 0


def _ballot_frozen(w: World, message_id: int) -> bool:
    message = next(m for m in w.fake.messages(GROUP) if m.message_id == message_id)
    return not (message.reply_markup or {}).get("inline_keyboard")
