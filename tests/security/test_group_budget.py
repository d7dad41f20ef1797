"""The group budget cannot be turned against the room: someone who never opened a private chat with the
bot and floods a group with commands gets one pointer a day there, with their name shown clean."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import GROUP, MODERATOR, World
from tests.e2e.conftest import world as world  # noqa: F401 - the fixture, on both runtimes

FLOODER = 7300


async def test_a_flood_of_personal_commands_gets_one_clean_pointer(world: World) -> None:
    w = world
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    w.fake.add_user(FLOODER, "\u202eFlood\x1b[31m Sun\x00", language_code="en")
    w.fake.set_member(GROUP, FLOODER, "member")
    first = w.fake.last_message(GROUP)
    assert first is not None
    commands = ["/help", "/me", "/show 1", "/support 1", "/results 1", "/accept 1", "/vote 1 simple 3d",
                "/lang en", "/pending", "/register 3-2-101", "/propose", "/close 1"] * 3
    for command in commands:
        w.fake.send_text(FLOODER, GROUP, command)
    await w.fake.wait_for_message(GROUP, lambda m: m.from_bot, 10.0, after=first.message_id)
    await asyncio.sleep(1.5)  # the rest are handled and dropped meanwhile
    posted = [m for m in w.fake.messages(GROUP) if m.from_bot and m.message_id > first.message_id]
    assert len(posted) == 1
    assert "Flood Sun" in (posted[0].text or "")
    assert not any(c in (posted[0].text or "") for c in ("\u202e", "\x1b", "\x00"))
    # Nothing was changed by any of them.
    async with w.db.uow(readonly=True) as uow:
        from sqlalchemy import func, select

        from bot.storage.models import Proposal, Vote

        assert (await uow.session.execute(select(func.count()).select_from(Proposal))).scalar_one() == 0
        assert (await uow.session.execute(select(func.count()).select_from(Vote))).scalar_one() == 0
