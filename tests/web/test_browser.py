"""A resident on a phone, in a real browser: /web in the chat, the link, 赞成 then 反对, one ballot.

Headless Debian Chromium driven by Playwright (as tests/demo/test_browser.py), against the web pages of
a whole Yishi on the aiogram runtime talking to the in-repo fake Bot API. CI installs Chromium and sets
YISHI_REQUIRE_BROWSER=1, so there the test fails instead of skipping. Kept to one test: CI time is tight.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services import agenda, voting
from bot.services.directory import Actor
from bot.services.export import export_data
from bot.storage.models import Community
from bot.web import WebServer
from tests.e2e.conftest import MODERATOR, OWNERS, World
from tests.e2e.conftest import world as world  # noqa: F401 - the fixture

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = bool(os.environ.get("YISHI_REQUIRE_BROWSER"))
ROOT = Path(__file__).resolve().parents[2]
LINK_RE = re.compile(r"http://127\.0\.0\.1:\d+/s/\S+")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM and not REQUIRED, reason="needs Debian chromium (CI installs it)")


async def _link(w: World, user: int) -> str:
    answer = await w.say(user, user, "/web")
    found = LINK_RE.search(answer.text or "")
    assert found is not None, answer.text
    return found.group(0)


async def _ballots(w: World, vote_id: int) -> list[tuple[str, object]]:
    data = await export_data(w.db)
    vote = next(v for p in data["proposals"] for v in p["votes"] if v["id"] == vote_id)
    return sorted((b["source"], b["choice"]) for b in vote["ballots"])


@pytest.mark.parametrize("world", ["aiogram"], indirect=True)
async def test_a_resident_votes_on_a_phone_then_in_the_chat_and_one_ballot_counts(world: World,
                                                                                 tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    w = world
    owner, neighbour = OWNERS["602"], OWNERS["601"]  # 602's Telegram app reports Chinese (zh-hans)
    for room, user in (("602", owner), ("601", neighbour)):
        await w.say(user, user, f"/register {w.codes[f'3-2-{room}']}")
    async with w.db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
    proposal = (await agenda.propose(w.db, w.community_id, Actor("telegram", str(owner)), "粉刷楼道",
                                     "楼道墙面发黑，灯也不亮了。", scope="3-2", force=True)).proposal
    assert proposal is not None and proposal.id is not None
    moderator = Actor("telegram", str(MODERATOR))
    await agenda.accept(w.db, proposal.id, moderator)
    vote = await voting.open_vote(w.db, proposal.id, moderator, "art278", 7)
    assert vote.id is not None
    pages = WebServer(w.db, w.app.i18n, w.app.tz, "127.0.0.1", 0)
    w.app.web_base_url = await pages.start()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                phone = await browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                                  is_mobile=True, has_touch=True)
                page = await phone.new_page()
                await page.goto(await _link(w, owner))
                await page.get_by_test_id("confirm-signin").click()
                await page.get_by_test_id("vote-link").click()
                assert "需三分之二以上业主参与" in await page.get_by_test_id("rule").inner_text()
                await page.get_by_test_id("vote-yes").click()
                await page.get_by_test_id("recorded").wait_for()
                assert await page.get_by_test_id("my-ballot").inner_text() == "赞成"
                await page.get_by_test_id("vote-no").click()
                await page.get_by_test_id("recorded").wait_for()
                assert await page.get_by_test_id("my-ballot").inner_text() == "反对"
                assert "1/12" in await page.get_by_test_id("turnout").inner_text()
                # Elder-friendly: 18px text, 48px targets, nothing wider than a 320px phone.
                sizes = await page.evaluate("""() => ({
                    font: parseFloat(getComputedStyle(document.body).fontSize),
                    button: Math.min(...[...document.querySelectorAll('button')]
                                     .map(b => b.getBoundingClientRect().height)),
                })""")
                assert sizes["font"] >= 18 and sizes["button"] >= 48, sizes
                shot = tmp_path / "ballot.png"
                await page.screenshot(path=str(shot), full_page=True)
                readme_shot = ROOT / "docs" / "screenshots" / "ballot.png"
                if os.environ.get("YISHI_UPDATE_SCREENSHOTS") or not readme_shot.exists():  # no churn on every run
                    readme_shot.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(shot, readme_shot)
                await page.set_viewport_size({"width": 320, "height": 640})
                width = await page.evaluate("() => document.documentElement.scrollWidth")
                assert width <= 320, width

                assert await _ballots(w, vote.id) == [("web", "no")]
                # The same owner in the chat: the last ballot counts, still one.
                card = await w.say(owner, owner, f"/start vote_{vote.id}")
                await w.press(owner, owner, card, f"v1:b:{vote.id}:y")
                rows = await _ballots(w, vote.id)
                assert rows == [("self", "yes")], rows

                # Without JavaScript (an old phone, a locked-down in-app browser): the plain form votes.
                plain = await browser.new_context(viewport={"width": 320, "height": 640}, java_script_enabled=False)
                page = await plain.new_page()
                await page.goto(await _link(w, neighbour))
                await page.get_by_test_id("confirm-signin").click()
                await page.goto(f"{w.app.web_base_url}/v/{vote.id}")
                await page.get_by_test_id("vote-abstain").click()
                # 601's Telegram app reports English: the web page follows the member's language.
                assert await page.get_by_test_id("my-ballot").inner_text() == "Abstain"
                rows = await _ballots(w, vote.id)
                assert rows == [("self", "yes"), ("web", "abstain")], rows
            finally:
                await browser.close()
    finally:
        await pages.stop()
