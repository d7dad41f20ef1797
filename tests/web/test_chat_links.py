"""With WEB_BASE_URL set, the ballot message in the room and the private ballot link to the vote's page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.storage.models import Community
from tests.e2e.conftest import GROUP, MODERATOR, OWNERS, World
from tests.e2e.conftest import world as world  # noqa: F401 - the fixture

BASE = "https://yishi.example.org"


@pytest.mark.parametrize("world", ["ptb"], indirect=True)
async def test_ballot_messages_link_to_the_web_page_when_the_pages_have_a_public_address(world: World) -> None:
    w = world
    owner = OWNERS["101"]
    await w.say(owner, owner, f"/register {w.codes['3-2-101']}")
    async with w.db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    await w.say(owner, GROUP, "/propose Paint the stairwell")
    await w.say(MODERATOR, GROUP, "/accept 1")
    ballot = await w.say(MODERATOR, GROUP, "/vote 1 art278 7d")
    assert BASE not in (ballot.text or "")  # WEB_BASE_URL unset: no link
    w.app.web_links = BASE
    private = await w.say(owner, owner, "/start vote_1")
    assert f"{BASE}/v/1" in (private.text or "")
    await w.press(owner, owner, private, "v1:b:1:y")  # the room's ballot message is edited: now with the link
    await w.fake.wait_for(lambda: f"{BASE}/v/1" in (w.fake.message(GROUP, ballot.message_id).text or ""), 20)
