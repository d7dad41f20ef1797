"""Residents' requests end to end, on aiogram and on python-telegram-bot, through the fake Bot API.

A request is reported, taken, whistled to a department, resolved, rated 不满意 and reopened, resolved again
and rated 满意; an urgent request left alone is reminded and escalated at the right times (the clock moved,
the scheduler running); three similar reports from three households make one suggestion for the council,
and turning it into a proposal invites the three reporters to co-sign.

Photos are in tests/e2e/test_request_photos.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from bot.scheduler.context import JobContext
from bot.scheduler.service import SchedulerService
from bot.services import requests as service
from bot.storage.models import ResidentRequest, Support
from tests.e2e.conftest import MODERATOR, OWNERS, World

HANDLER, BOSS, WATER, STREET = 7001, 7002, 7201, 7301
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai


async def _setup(w: World) -> None:
    for user, name in ((HANDLER, "Property Wang"), (BOSS, "Manager Sun"), (WATER, "Water Zhou"),
                       (STREET, "Street Wu")):
        w.fake.add_user(user, name, language_code="en")
        w.fake.add_private_chat(user)
        await w.say(user, user, "/lang en")  # messages the bot sends them unprompted follow it
    await w.say(MODERATOR, MODERATOR, "/lang en")
    community = "幸福里"
    await service.configure(w.db, community, parties=[("PropertyCo", "property"), ("Water", "department"),
                                                       ("Street", "street")],
                            routes=[("repair", "PropertyCo")], street="Street")
    for user, party, supervisor in ((HANDLER, "PropertyCo", False), (BOSS, "PropertyCo", True),
                                    (WATER, "Water", False), (STREET, "Street", False)):
        await service.add_handler(w.db, community, "telegram", str(user), party, supervisor=supervisor)
    for room in ("101", "102", "201", "602"):
        reply = await w.say(OWNERS[room], OWNERS[room], f"/register {w.codes['3-2-' + room]}")
        assert f"3-2-{room}" in reply.text


async def _said(w: World, chat: int, needle: str, timeout: float = 10.0) -> str:
    found = await w.fake.wait_for_message(chat, lambda m: m.from_bot and needle in (m.text or ""), timeout)
    return found.text or ""


async def _request(w: World, request_id: int = 1) -> ResidentRequest:
    async with w.db.uow(readonly=True) as uow:
        row = await uow.session.get(ResidentRequest, request_id)
    assert row is not None
    return row


async def test_a_request_whistled_reopened_and_rated(world: World) -> None:
    w = world
    await _setup(w)
    owner = OWNERS["101"]
    received = await w.say(owner, owner, "/report repair 3-2 The stairwell lamp is broken")
    assert "R1" in received.text
    assert "Owner 101" in await _said(w, HANDLER, "New request")
    assert "took work order R1" in (await w.say(HANDLER, HANDLER, "/take R1")).text
    await _said(w, owner, "taken by PropertyCo")
    whistled = await w.say(HANDLER, HANDLER, "/whistle R1 Water The pipe behind the lamp leaks")
    assert "Whistle blown" in whistled.text
    assert "pipe behind the lamp" in await _said(w, WATER, "R1")
    await _said(w, STREET, "R1")
    await w.say(WATER, WATER, "/resolve R1 Pipe and lamp replaced")
    rate = await w.fake.wait_for_message(owner, lambda m: m.from_bot and "Pipe and lamp replaced" in (m.text or ""))
    assert rate.callback_data == ["v1:rq:1:s", "v1:rq:1:b", "v1:rq:1:u"]
    assert "still wrong" in await w.press(owner, owner, rate, "v1:rq:1:u")
    await w.say(owner, owner, "/reopen R1 The lamp flickers again")
    assert "flickers again" in await _said(w, WATER, "not satisfied")
    assert (await _request(w)).state == "in_progress"
    await w.say(WATER, WATER, "/resolve R1 New fitting installed")
    again = await w.fake.wait_for_message(owner, lambda m: m.from_bot and "New fitting" in (m.text or ""))
    assert "Thank you" in await w.press(owner, owner, again, "v1:rq:1:s")
    row = await _request(w)
    assert (row.state, row.rating, row.reopened, row.whistled) == ("closed", "satisfied", 1, True)
    listing = await w.say(owner, owner, "/myreports")
    assert "R1" in listing.text and "closed, satisfied" in listing.text
    # Another household's owner cannot see it.
    assert "There is no work order R1" in (await w.say(OWNERS["102"], OWNERS["102"], "/order R1")).text


async def test_three_households_make_a_suggestion_and_a_proposal(world: World) -> None:
    w = world
    await _setup(w)
    for room in ("101", "102", "201"):
        answer = await w.say(OWNERS[room], OWNERS[room], "/report repair 3-2 The stairwell lamp is broken again")
        assert "Your work order number is" in answer.text
    notice = await _said(w, MODERATOR, "Recurring problem #1")
    assert "3 similar requests" in notice
    listing = await w.say(MODERATOR, MODERATOR, "/suggestions")
    assert "R1" in listing.text and "R2" in listing.text and "R3" in listing.text
    toast = await w.press(MODERATOR, MODERATOR, listing, w.button(listing, "v1:sg:"))
    assert "Proposal #1 created" in toast
    for room in ("101", "102", "201"):
        invite = await w.fake.wait_for_message(OWNERS[room], lambda m: m.from_bot and "proposal #1" in (m.text or ""))
        assert invite.callback_data == ["v1:s:1"]
    invite = await w.fake.wait_for_message(OWNERS["102"], lambda m: m.from_bot and "proposal #1" in (m.text or ""))
    assert "Co-signed" in await w.press(OWNERS["102"], OWNERS["102"], invite, "v1:s:1")
    async with w.db.uow(readonly=True) as uow:
        assert len((await uow.session.execute(select(Support))).scalars().all()) == 1
    # One suggestion, not one per report; a second tap does not make a second proposal.
    assert "already a proposal" in await w.press(MODERATOR, MODERATOR, listing, w.button(listing, "v1:sg:"))
    assert "No recurring problems" in (await w.say(MODERATOR, MODERATOR, "/suggestions")).text


async def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.05)


def _texts(w: World, chat: int) -> list[str]:
    return [m.text or "" for m in w.fake.messages(chat) if m.from_bot]


async def test_an_urgent_request_left_alone_is_reminded_and_escalated(world: World) -> None:
    with time_machine.travel(START, tick=True) as clock:
        w = world
        await _setup(w)
        owner = OWNERS["602"]  # writes in Chinese
        received = await w.say(owner, owner, "/report 设施维修 3-2-602 紧急 家里天花板漏水")
        assert "R1" in received.text and "已受理" in received.text
        row = await _request(w)
        assert row.urgent and row.response_due == row.reported_at + timedelta(hours=2)
        assert w.app.outbox is not None
        context = JobContext(w.db, w.app.i18n, w.app.tz, wake_outbox=w.app.outbox.wake)
        scheduler = SchedulerService(w.db.url, w.app.tz, context, reconcile_interval=3600, replan_delay=0)
        await scheduler.start()
        try:
            assert scheduler.scheduler is not None
            # 30 minutes before the 2-hour deadline: the handler is reminded (not before).
            clock.move_to(row.response_due - timedelta(minutes=31))
            scheduler.scheduler.wakeup()
            await asyncio.sleep(0.5)
            assert not any("Reminder" in t for t in _texts(w, HANDLER))
            clock.move_to(row.response_due - timedelta(minutes=30) + timedelta(seconds=1))
            scheduler.scheduler.wakeup()
            await _until(lambda: any("Reminder: work order R1" in t for t in _texts(w, HANDLER)))
            assert not any("Overdue" in t for t in _texts(w, BOSS))
            # The deadline passes: the supervisor; two hours later: the street level.
            clock.move_to(row.response_due + timedelta(seconds=1))
            await asyncio.sleep(0.3)
            scheduler.scheduler.wakeup()
            await _until(lambda: any("Overdue: work order R1" in t for t in _texts(w, BOSS)))
            assert not any("Escalated" in t for t in _texts(w, STREET))
            clock.move_to(row.response_due + timedelta(hours=2, seconds=1))
            await asyncio.sleep(0.3)
            scheduler.scheduler.wakeup()
            await _until(lambda: any("Escalated to the street level" in t for t in _texts(w, STREET)))
            assert sum("Reminder" in t for t in _texts(w, HANDLER)) == 1
            assert sum("Overdue" in t for t in _texts(w, BOSS)) == 1
        finally:
            await scheduler.stop()
