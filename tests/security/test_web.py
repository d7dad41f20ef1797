"""Attacks on the web pages: forged, expired and reused sign-in links, ballots outside one's scope or
after the deadline, a tenant on an owners' vote, missing or wrong CSRF tokens, fields 100 times too long,
guessing invite codes, forged session cookies. Each gets a clear page in the member's language and
changes nothing. The /web command itself runs on both runtimes against the fake Bot API.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.services import agenda, voting
from bot.services import web as signin
from bot.services.directory import Actor
from bot.storage.models import Ballot, Community, Member, OutboxMessage, Proposal, Vote, WebSession, WebSignin, utcnow
from bot.web import WebServer
from tests.e2e.conftest import GROUP, MODERATOR, OWNERS, World
from tests.e2e.conftest import world as world  # noqa: F401 - the fixture, on both runtimes
from tests.services.conftest import link  # noqa: F401 - the site fixture links members with it
from tests.web.conftest import OUTSIDER, OWNER, TENANT, Site
from tests.web.conftest import site as site  # noqa: F401 - the fixture

LINK_RE = re.compile(r"(http://127\.0\.0\.1:\d+)/s/(\S+)")


async def count(site: Site, model: type) -> int:
    async with site.db.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(model))).scalar_one())


# --- /web in the chat, on both runtimes -----------------------------------------------------------------


async def test_web_gives_a_personal_one_use_link_in_private_only(world: World) -> None:
    w = world
    owner = OWNERS["101"]
    await w.say(owner, owner, f"/register {w.codes['3-2-101']}")
    pages = WebServer(w.db, w.app.i18n, w.app.tz, "127.0.0.1", 0)
    url = await pages.start()
    w.app.web_base_url = url
    try:
        refused = await w.personal(owner, GROUP, "/web", match=lambda text: "/web" in text)
        assert "/web" in refused.text and "/s/" not in refused.text  # a link is never posted in a group
        answer = await w.say(owner, owner, "/web")
        found = LINK_RE.search(answer.text or "")
        assert found is not None and found.group(1) == url, answer.text
        token = found.group(2)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies on an IP
            async with http.get(f"{url}/s/{token}") as response:
                page = await response.text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert response.status == 200 and csrf is not None
            async with http.post(f"{url}/s", data={"token": token, "csrf": csrf.group(1)}) as response:
                page = await response.text()
            assert "3-2-101" in page  # signed in as that owner, the same member as in the chat
            async with http.post(f"{url}/s", data={"token": token, "csrf": csrf.group(1)}) as response:
                again = await response.text()
            assert response.status == 400 and ("already used" in again or "已经用过" in again)
        async with w.db.uow(readonly=True) as uow:
            stored = (await uow.session.execute(select(WebSignin.token_hash))).scalars().all()
        assert token not in stored and len(stored) == 1  # only its hash is kept
        # Nor does the outbox keep the link it delivered (its row is marked sent just after the delivery).
        async def outbox_keeps_token() -> bool:
            async with w.db.uow(readonly=True) as uow:
                rows = (await uow.session.execute(select(OutboxMessage.payload))).scalars().all()
            assert rows
            return any(token in json.dumps(payload, ensure_ascii=False) for payload in rows)

        async with asyncio.timeout(10):
            while await outbox_keeps_token():
                await asyncio.sleep(0.05)
    finally:
        await pages.stop()


async def test_a_web_ballot_redraws_the_rooms_ballot_message(world: World) -> None:
    """Live messages end on the database's state whichever surface changed it: a ballot cast on the web
    updates the turnout on the ballot message in the room."""
    w = world
    owner = OWNERS["101"]
    await w.say(owner, owner, f"/register {w.codes['3-2-101']}")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    async with w.db.uow() as uow:  # the author's own co-signature puts it on the agenda
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
    proposal = (await agenda.propose(w.db, w.community_id, Actor("telegram", str(owner)), "Paint the stairwell",
                                     scope="3-2", force=True)).proposal
    assert proposal is not None and proposal.id is not None
    await agenda.accept(w.db, proposal.id, w.moderator)
    posted = await w.say(MODERATOR, GROUP, f"/vote {proposal.id} art278 7d")
    assert "0/12" in (posted.text or ""), posted.text
    async with w.db.uow(readonly=True) as uow:
        vote_id = (await uow.session.execute(select(func.max(Vote.id)))).scalar_one()
    messenger = w.messenger
    assert messenger is not None
    # As bot/runtime.py wires it: the web tells the app's live messages what changed.
    pages = WebServer(w.db, w.app.i18n, w.app.tz, "127.0.0.1", 0,
                      changed=lambda kind, subject: w.app.touch_live(kind, subject, messenger))
    url = await pages.start()
    w.app.web_base_url = url
    try:
        found = LINK_RE.search((await w.say(owner, owner, "/web")).text or "")
        assert found is not None
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{url}/s/{found.group(2)}") as response:
                csrf = re.search(r'name="csrf" value="([^"]+)"', await response.text())
            assert csrf is not None
            async with http.post(f"{url}/s", data={"token": found.group(2), "csrf": csrf.group(1)}) as response:
                assert response.status == 200
            async with http.get(f"{url}/v/{vote_id}") as response:
                csrf = re.search(r'name="csrf" value="([^"]+)"', await response.text())
            assert csrf is not None
            async with http.post(f"{url}/v/{vote_id}", data={"choice": "yes", "csrf": csrf.group(1)}) as response:
                assert response.status == 200
        shown = await w.fake.wait_for_message(
            GROUP, lambda m: m.message_id == posted.message_id and "1/12" in (m.text or ""), timeout=10)
        assert "1/12" in (shown.text or "")
    finally:
        await pages.stop()


async def test_without_web_pages_the_command_says_so(world: World) -> None:
    owner = OWNERS["102"]
    answer = await world.say(owner, owner, "/web")
    assert "/s/" not in (answer.text or "")
    assert "not set up" in (answer.text or "") or "还没有开通" in (answer.text or "")
    assert await count_signins(world) == 0


async def count_signins(w: World) -> int:
    async with w.db.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(WebSignin))).scalar_one())


# --- sign-in links -------------------------------------------------------------------------------------


async def test_forged_expired_and_reused_links_sign_nobody_in(site: Site) -> None:
    browser = await site.browser()
    page = await browser.get("/s/not-a-real-token.AAAAAAAAAAAAAAAAAAAAAA", status=400)
    assert "这个登录链接无效" in page
    page = await browser.post("/s", {"token": "forged.AAAAAAAAAAAAAAAAAAAAAA"}, status=400)
    assert "这个登录链接无效" in page
    # Signed with another key: refused like any forgery.
    page = await browser.post("/s", {"token": "x" * 32 + ".zzzzzzzzzzzzzzzzzzzzzz"}, status=400)
    assert "这个登录链接无效" in page
    old = await signin.issue_signin(site.db, OWNER, now=utcnow() - timedelta(minutes=16))
    page = await browser.post("/s", {"token": old}, status=400)
    assert "已过期" in page
    token = await signin.issue_signin(site.db, OWNER)
    await browser.post("/s", {"token": token})
    other = await site.browser()
    page = await other.post("/s", {"token": token}, status=400)
    assert "已经用过" in page
    assert await count(site, WebSession) == 1  # only the one good sign-in
    page = await other.get("/")
    assert 'name="code"' in page  # not signed in


async def test_a_forged_session_cookie_signs_nobody_in(site: Site) -> None:
    browser = await site.browser()
    await browser.sign_in(OWNER)
    real = browser.client.session.cookie_jar.filter_cookies(browser.client.make_url("/"))["yishi_s"].value
    raw, _dot, _mac = real.partition(".")
    other = await site.browser()
    other.client.session.cookie_jar.update_cookies({"yishi_s": f"{raw}.AAAAAAAAAAAAAAAAAAAAAA"},
                                                   response_url=other.client.make_url("/"))
    page = await other.get("/")
    assert 'name="code"' in page


# --- ballots ---------------------------------------------------------------------------------------------


async def test_a_ballot_outside_ones_scope_is_refused(site: Site) -> None:
    browser = await site.browser()
    await browser.sign_in(OUTSIDER)  # owns 3-1-101; the vote is for 3-2
    page = await browser.get(f"/v/{site.vote.id}", status=403)
    assert "没有房屋" in page and "Paint the stairwell" not in page
    page = await browser.post(f"/v/{site.vote.id}", {"choice": "yes"}, status=403)
    assert "没有房屋" in page
    page = await browser.get(f"/m/{site.proposal_id}", status=403)
    assert "Grey walls" not in page
    assert await count(site, Ballot) == 0


async def test_a_tenant_on_an_owners_vote_is_refused(site: Site) -> None:
    browser = await site.browser()
    await browser.sign_in(TENANT)
    page = await browser.get(f"/v/{site.vote.id}")
    assert "您不在本次表决的名单中" in page and 'data-testid="vote-yes"' not in page
    page = await browser.post(f"/v/{site.vote.id}", {"choice": "yes"}, status=403)
    assert "不在本次表决的名单中" in page
    assert await count(site, Ballot) == 0


async def test_a_ballot_after_the_deadline_is_refused(site: Site) -> None:
    import time_machine

    browser = await site.browser()
    await browser.sign_in(OWNER)
    await browser.get(f"/v/{site.vote.id}")
    with time_machine.travel(site.vote.closes_at + timedelta(minutes=1)):
        page = await browser.post(f"/v/{site.vote.id}", {"choice": "yes"}, status=400)
    assert "现在无法操作" in page or "截止" in page
    assert await count(site, Ballot) == 0


async def test_a_missing_or_wrong_csrf_token_changes_nothing(site: Site) -> None:
    browser = await site.browser()
    await browser.sign_in(OWNER)
    await browser.get(f"/v/{site.vote.id}")
    page = await browser.post(f"/v/{site.vote.id}", {"choice": "yes"}, status=403, csrf="")
    assert "表单已失效" in page
    page = await browser.post(f"/v/{site.vote.id}", {"choice": "yes"}, status=403, csrf="AAAAAAAAAAAAAAAAAAAAAA")
    assert "表单已失效" in page
    # Another browser's valid token does not work here (bound to that browser's cookie).
    other = await site.browser()
    await other.get("/signin")
    page = await browser.post(f"/v/{site.vote.id}", {"choice": "yes"}, status=403, csrf=other.csrf)
    assert "表单已失效" in page
    page = await browser.post("/signout", {}, status=403, csrf="")
    assert await count(site, Ballot) == 0
    page = await browser.get("/")
    assert "3-2-101" in page  # still signed in: the forged sign-out did nothing


@pytest.mark.parametrize("path_and_form", [
    ("/propose", {"title": "长" * 20_000, "body": "", "category": "other", "scope": "1:3-2"}),
    ("/propose", {"title": "Fine", "body": "长" * 350_000, "category": "other", "scope": "1:3-2"}),
    ("/signin", {"home": "3-2-101" * 100, "code": "ABCD-2345", "next": "/"}),
    ("/signin", {"home": "3-2-101", "code": "A" * 4000, "next": "/"}),
    ("ballot", {"choice": "yes" * 1000}),
    ("/s", {"token": "t" * 10_000}),
])
async def test_fields_a_hundred_times_too_long_are_refused(site: Site,
                                                           path_and_form: tuple[str, dict[str, str]]) -> None:
    path, form = path_and_form
    path = f"/v/{site.vote.id}" if path == "ballot" else path
    browser = await site.browser()
    await browser.sign_in(OWNER)
    before = await count(site, Proposal), await count(site, Member), await count(site, WebSession)
    response = await browser.client.post(path, data={**form, "csrf": browser.csrf})
    page = await response.text()
    assert response.status in (400, 413), page[:500]
    assert "太长" in page or "超过" in page or "长度" in page or "无效" in page or "请点选" in page, page[:3000]
    assert (await count(site, Proposal), await count(site, Member), await count(site, WebSession)) == before
    assert await count(site, Ballot) == 0


# --- invite codes ---------------------------------------------------------------------------------------


async def test_guessing_a_homes_code_is_stopped_with_a_clear_message(site: Site) -> None:
    browser = await site.browser()
    for attempt in range(signin.CODE_PER_HOME.attempts):
        page = await browser.post("/signin", {"home": "3-2-401", "code": f"ABCD-234{attempt}", "next": "/"},
                                  status=400)
        assert "邀请码和房号对不上" in page
    page = await browser.post("/signin", {"home": "3-2-401", "code": site.codes["3-2-401"], "next": "/"}, status=400)
    assert "尝试次数太多" in page or "次数过多" in page or "分钟后" in page, page[:3000]
    assert await count(site, WebSession) == 0


async def test_guessing_from_one_address_is_stopped(site: Site) -> None:
    browser = await site.browser()
    homes = ["3-2-401", "3-2-402", "3-2-501", "3-2-502", "3-2-601", "3-2-602"]
    for attempt in range(signin.CODE_PER_IP.attempts):
        await browser.post("/signin", {"home": homes[attempt % len(homes)], "code": "ABCD-2345", "next": "/"},
                           status=400)
    page = await browser.post("/signin", {"home": "3-2-602", "code": site.codes["3-2-602"], "next": "/"}, status=400)
    assert "分钟后" in page
    assert await count(site, WebSession) == 0


async def test_a_code_for_another_home_signs_nobody_in(site: Site) -> None:
    browser = await site.browser()
    page = await browser.post("/signin", {"home": "3-2-402", "code": site.codes["3-2-401"], "next": "/"}, status=400)
    assert "邀请码和房号对不上" in page
    assert await count(site, WebSession) == 0


async def test_web_ballots_and_chat_ballots_share_one_rule(site: Site) -> None:
    """A second matter with a collecting state has no vote: its ballot page does not exist."""
    proposal = (await agenda.propose(site.db, site.community_id, OWNER, "Another", scope="3-2", force=True)).proposal
    assert proposal is not None
    browser = await site.browser()
    await browser.sign_in(OWNER)
    page = await browser.get("/v/999", status=404)
    assert "没有" in page
    page = await browser.get("/v/abc", status=404)
    assert "没有这个页面" in page
    with pytest.raises(Exception):  # noqa: B017,PT011 - the service refuses a made-up source
        await voting.cast_ballot(site.db, site.vote.id, OWNER, "yes", source="paper")
    assert await count(site, Ballot) == 0


async def test_behind_a_local_proxy_each_forwarded_client_has_its_own_limit(site: Site) -> None:
    browser = await site.browser()
    await browser.get("/signin")
    for attempt in range(signin.CODE_PER_IP.attempts):
        response = await browser.client.post("/signin", data={"home": f"3-2-{attempt}", "code": "ABCD-2345",
                                                               "next": "/", "csrf": browser.csrf},
                                             headers={"X-Forwarded-For": "203.0.113.7"})
        assert response.status == 400
    response = await browser.client.post("/signin", data={"home": "3-2-401", "code": site.codes["3-2-401"],
                                                          "next": "/", "csrf": browser.csrf},
                                         headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status == 400 and "分钟后" in await response.text()
    response = await browser.client.post("/signin", data={"home": "3-2-401", "code": site.codes["3-2-401"],
                                                          "next": "/", "csrf": browser.csrf},
                                         headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    assert response.status == 200 and "3-2-401" in await response.text()  # another client behind the proxy


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "https://evil.example"])
async def test_the_page_after_sign_in_is_always_on_this_site(site: Site, target: str) -> None:
    browser = await site.browser()
    await browser.get("/signin")
    response = await browser.client.post(
        "/signin", data={"home": "3-2-401", "code": site.codes["3-2-401"], "next": target, "csrf": browser.csrf},
        allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/"
