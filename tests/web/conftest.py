"""The web pages on aiohttp's test server, over a real database with the sample community (幸福里).

``site`` has owners of 3-2-101/102/201 and 3-1-101 linked, a tenant of 3-2-302, the council's moderator,
and an open owners' vote (Art. 278) on a 3-2 matter; ``Browser`` is one phone: cookies, forms, CSRF.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.i18n import Translator
from bot.services import agenda, voting
from bot.services import web as signin
from bot.services.census import issue_codes
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.storage import Database
from bot.storage.models import Community, Vote
from bot.web import create_app
from tests.services.conftest import resident

MODERATOR = Actor("telegram", "9000", "Moderator")
OWNER = resident(3201)  # 3-2-101
NEIGHBOUR = resident(3202)  # 3-2-102
THIRD = resident(3203)  # 3-2-201
OUTSIDER = resident(6000)  # 3-1-101
TENANT = resident(5000)  # lives in 3-2-302, owns nothing
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    db: Database
    community_id: int
    vote: Vote
    proposal_id: int
    codes: dict[str, str]
    client: TestClient
    browsers: list[Browser] = field(default_factory=list)

    async def browser(self) -> Browser:
        found = Browser(self, TestClient(TestServer(self.client.server.app)))
        await found.client.start_server()
        self.browsers.append(found)
        return found


@dataclass
class Browser:
    site: Site
    client: TestClient
    csrf: str = ""
    last: str = ""

    async def get(self, path: str, status: int = 200) -> str:
        response = await self.client.get(path)
        return await self._read(response, status)

    async def post(self, path: str, data: dict[str, str] | list[tuple[str, str]] | None = None,
                   status: int = 200, csrf: str | None = None) -> str:
        if not self.csrf:
            await self.get("/signin")
        form = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf is None:
            form.append(("csrf", self.csrf))
        elif csrf:
            form.append(("csrf", csrf))
        response = await self.client.post(path, data=form)
        return await self._read(response, status)

    async def _read(self, response: ClientResponse, status: int) -> str:
        text = await response.text()
        assert response.status == status, (response.status, response.url, text[:2000])
        self.last = unescape(text)
        found = CSRF_RE.search(text)
        if found:
            self.csrf = found.group(1)
        return self.last

    async def sign_in(self, actor: Actor) -> str:
        token = await signin.issue_signin(self.site.db, actor)
        page = await self.get(f"/s/{token}")
        assert 'data-testid="confirm-signin"' in page
        return await self.post("/s", {"token": token})


@pytest.fixture
async def site(db: Database, community: str, link) -> AsyncIterator[Site]:  # noqa: ANN001 - the services fixture
    async with db.uow() as uow:
        row = (await uow.session.execute(select(Community))).scalar_one()
        row.support_fixed = 2  # the author and one neighbour put a matter on the review list
        assert row.id is not None
        community_id = row.id
    await add_council_member(db, community, MODERATOR.platform, MODERATOR.external_id)
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community)}
    for label, actor in (("3-2-101", OWNER), ("3-2-102", NEIGHBOUR), ("3-2-201", THIRD), ("3-1-101", OUTSIDER)):
        await link(community_id, label, actor.external_id)
    await link(community_id, "3-2-302", TENANT.external_id, role="resident")
    proposal = (await agenda.propose(db, community_id, OWNER, "Paint the stairwell", "Grey walls, new lights.",
                                     scope="3-2", force=True)).proposal
    assert proposal is not None and proposal.id is not None
    await agenda.support(db, proposal.id, NEIGHBOUR)
    await agenda.accept(db, proposal.id, MODERATOR)
    vote = await voting.open_vote(db, proposal.id, MODERATOR, "art278", 7)
    app = create_app(db, Translator("zh_CN"), ZoneInfo("Asia/Shanghai"))
    client = TestClient(TestServer(app))
    await client.start_server()
    found = Site(db, community_id, vote, proposal.id, codes, client)
    try:
        yield found
    finally:
        for browser in found.browsers:
            await browser.client.close()
        await client.close()
