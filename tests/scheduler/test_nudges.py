"""Private nudges: one a day, never in quiet hours, never after /nudges off, never to voters or the unreachable."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from bot.chat.port import Chat, IncomingMessage, Sender
from bot.deliberation.errors import InvalidInput
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.scheduler.context import JobContext
from bot.scheduler.nudges import nudge_members
from bot.services import voting
from bot.services.community import QuietHours, configure
from bot.services.directory import Actor
from bot.storage.models import Member
from tests.scheduler.conftest import T0, World, hours, outbox
from tests.support.chat import Recorder

SH = ZoneInfo("Asia/Shanghai")


def local(hour: int, minute: int = 0, day: int = 3) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SH)


def test_quiet_hours_parse_and_wrap_midnight() -> None:
    night = QuietHours.parse("22:00-08:00")
    assert night.contains(time(23, 30)) and night.contains(time(7, 59)) and night.contains(time(22, 0))
    assert not night.contains(time(8, 0)) and not night.contains(time(12, 0))
    lunch = QuietHours.parse("12:00-13:30")
    assert lunch.contains(time(12, 45)) and not lunch.contains(time(13, 30))
    assert not QuietHours.parse("00:00-00:00").contains(time(3, 0))
    for bad in ("24:00-08:00", "22:00", "22-08", "22:60-08:00", " "):
        with pytest.raises(InvalidInput):
            QuietHours.parse(bad)


async def test_quiet_hours_are_configured_and_validated(world: World) -> None:
    shown = await configure(world.db, world.community, quiet_hours="21:30-07:00")
    assert shown["quiet_hours"] == "21:30-07:00"
    with pytest.raises(InvalidInput):
        await configure(world.db, world.community, quiet_hours="9pm-7am")
    assert (await configure(world.db, world.community))["quiet_hours"] == "21:30-07:00"


async def _nudged(world: World) -> dict[str, str]:
    return {r.chat_id: r.payload["text"] for r in await outbox(world.db, "nudge:")}


async def test_one_nudge_a_day_to_members_on_the_roll_who_have_not_voted(
    world: World, job_context: JobContext
) -> None:
    vote = await world.vote("3-2")
    assert vote.id is not None
    await voting.cast_ballot(world.db, vote.id, Actor("telegram", "2"), "no", now=T0 + hours(1))
    with time_machine.travel(local(10), tick=False):
        assert await nudge_members() == 1
        assert await nudge_members() == 0  # the same day
    with time_machine.travel(local(21, 59), tick=False):
        assert await nudge_members() == 0
    nudges = await outbox(world.db, "nudge:")
    # User 1 owns 3-2-101 and has not voted; user 2 voted; user 3 (3-1) is not on this vote's roll.
    assert [(n.chat_id, n.chat_kind, n.member_id is not None) for n in nudges] == [("1", "private", True)]
    assert f"#{vote.proposal_id} Paint the stairwell" in nudges[0].payload["text"]
    assert nudges[0].payload["actions"][0][0]["start"] == f"vote_{vote.id}"
    with time_machine.travel(local(8, 1, day=4), tick=False):  # the next community-local day
        assert await nudge_members() == 1
    assert len(await outbox(world.db, "nudge:")) == 2


async def test_no_nudge_in_quiet_hours(world: World, job_context: JobContext) -> None:
    await world.vote("3-2")
    for moment in (local(22, 0), local(23, 45), local(3, 0, day=4), local(7, 59, day=4)):
        with time_machine.travel(moment, tick=False):
            assert await nudge_members() == 0
    await configure(world.db, world.community, quiet_hours="09:00-11:00")
    with time_machine.travel(local(10), tick=False):
        assert await nudge_members() == 0
    with time_machine.travel(local(23), tick=False):
        assert await nudge_members() == 2  # the owners of 3-2-101 and 3-2-201


async def test_no_nudge_after_nudges_off_and_none_to_the_unreachable(
    world: World, job_context: JobContext, db: object
) -> None:
    await world.vote("3-2")
    yishi = Yishi(world.db, Translator("en"), SH, ballot_edit_interval=0)
    messenger = Recorder()

    async def say(update_id: int, body: str) -> str:
        chat = Chat("telegram", "1", "private")
        await yishi.feed(IncomingMessage(update_id, Sender("telegram", "1", "One", "en"), chat, str(update_id), body),
                         messenger)
        return messenger.sent[-1][1].text

    assert "on" in await say(1, "/nudges")
    assert "off" in await say(2, "/nudges off")
    assert "Usage" in await say(3, "/nudges maybe")
    async with world.db.uow() as uow:
        member = (await uow.session.execute(select(Member).where(Member.external_id == "2"))).scalar_one()
        member.reachable = False
    with time_machine.travel(local(10), tick=False):
        assert await nudge_members() == 0
    assert await _nudged(world) == {}
    assert "are on" in await say(4, "/nudges on")
    with time_machine.travel(local(10) + timedelta(minutes=15), tick=False):
        assert await nudge_members() == 1
    assert set(await _nudged(world)) == {"1"}
