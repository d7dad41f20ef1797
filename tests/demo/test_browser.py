"""A resident in a real browser: register with a code, co-sign, vote on the elevator for 3-2.

Headless Debian Chromium driven by Playwright, against the local room on the real bot. CI installs
Chromium and sets YISHI_REQUIRE_BROWSER=1, so there the test fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.demo.conftest import Room

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
REQUIRED = bool(os.environ.get("YISHI_REQUIRE_BROWSER"))

pytestmark = pytest.mark.skipif(not CHROMIUM and not REQUIRED, reason="needs Debian chromium (CI installs it)")

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


class Resident:
    """The page, driven the way a person would: pick who you are, pick a room, type, press."""

    def __init__(self, page, state: dict) -> None:
        self.page = page
        self.state = state
        self.personas = {p["name"]: p for p in state["personas"]}
        self.unit_room = next(r["chat_id"] for r in state["rooms"] if r["scope"] == "3-2")

    async def act_as(self, name: str) -> dict:
        persona = self.personas[name]
        await self.page.get_by_test_id("persona-select").select_option(str(persona["id"]))
        return persona

    async def open(self, chat_id: int) -> None:
        await self.page.get_by_test_id(f"room-{chat_id}").click()

    async def say(self, text: str) -> None:
        await self.page.get_by_test_id("composer").fill(text)
        await self.page.get_by_test_id("send").click()

    async def wait_text(self, fragment: str, timeout: float = 15_000) -> None:
        await self.page.get_by_test_id("message-text").filter(has_text=fragment).last.wait_for(timeout=timeout)

    async def press(self, callback_prefix: str, suffix: str = "") -> str:
        """Press the newest matching button; returns the toast, or the alert's text after closing it."""
        ends = f'[data-callback$="{suffix}"]' if suffix else ""
        button = self.page.locator(f'[data-testid="button"][data-callback^="{callback_prefix}"]{ends}').last
        toast, alert = self.page.get_by_test_id("toast"), self.page.get_by_test_id("alert")
        if await toast.is_visible():  # the previous press's toast must not be read as this one's
            await toast.wait_for(state="hidden", timeout=15_000)
        await button.click()
        await toast.or_(alert).filter(visible=True).first.wait_for(timeout=15_000)
        await self.page.wait_for_timeout(150)  # a toast and an alert can race; let the page settle
        if await alert.is_visible():
            text = await alert.inner_text()
            await self.page.get_by_test_id("alert-ok").click()
            return text
        return await toast.inner_text()

    async def register(self, name: str) -> None:
        persona = await self.act_as(name)
        await self.open(persona["id"])
        await self.say(f"/register {persona['code']}")
        await self.wait_text(persona["home"])


async def test_a_resident_registers_co_signs_and_votes_in_the_browser(room_factory) -> None:
    from playwright.async_api import async_playwright

    async with room_factory() as room, async_playwright() as playwright:
        room: Room
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            await page.goto(room.url + "/")
            state = (await room.get("/demo/state?lang=zh_CN"))["result"]
            ui = Resident(page, state)

            # Registering with the code printed on the notice, shown in the switcher.
            wang = await ui.act_as("王阿姨")
            assert wang["code"] in await page.get_by_test_id("invite-code").inner_text()
            for name in ("王阿姨", "张老师", "陈先生", "李大爷"):
                await ui.register(name)

            # The tenant asks by room; the council's moderator approves from the page.
            liu = await ui.act_as("刘女士")
            await ui.open(liu["id"])
            await ui.say("/register 3-2-302")
            await ui.wait_text("3-2-302")
            await ui.press("v1:rg:", ":r")  # as a resident
            await ui.act_as("赵主任")
            await ui.open(ui.personas["赵主任"]["id"])
            await ui.say("/pending")
            await ui.wait_text("3-2-302")
            assert "已批准" in await ui.press("v1:ap:", ":a")

            # Proposing and co-signing in the 3-2 room, to the threshold of 5 households.
            await ui.act_as("王阿姨")
            await ui.open(ui.unit_room)
            await ui.say("/propose elevator: 3号楼2单元加装电梯\n我们年纪大了，六楼太高。")
            await ui.wait_text("1/5")
            for name in ("张老师", "陈先生", "李大爷", "刘女士"):
                await ui.act_as(name)
                await ui.open(ui.unit_room)
                await ui.press("v1:s:1")

            # The moderator puts it on the agenda and opens the elevator vote (Art. 278 items 6-8).
            await ui.act_as("赵主任")
            await ui.open(ui.unit_room)
            await ui.say("/accept 1")
            await ui.wait_text("议程")
            await ui.say("/vote 1 elevator 7d")
            await ui.wait_text("0/12")

            # Owners vote; the ballot message's turnout follows without a reload.
            for name, position in (("王阿姨", "v1:b:1:n"), ("张老师", "v1:b:1:y"), ("陈先生", "v1:b:1:y")):
                await ui.act_as(name)
                await ui.open(ui.unit_room)
                assert "已记录" in await ui.press(position)
            await ui.wait_text("3/12", timeout=20_000)
            await ui.act_as("刘女士")  # a tenant is not on an owners' roll
            await ui.open(ui.unit_room)
            assert "不在本次表决的名单中" in await ui.press("v1:b:1:y")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "local-room-elevator-vote.png"), full_page=True)

            # Bad input through the page gets the same answers as on Telegram.
            await ui.act_as("王阿姨")
            await ui.open(wang["id"])
            await ui.say("   ")
            await page.get_by_test_id("composer-error").wait_for()
            await ui.say("/start vote_1")
            await ui.wait_text("表决：#1")
            await ui.say("长" * 5000)  # Telegram clients split it in two messages: two answers
            answers = page.get_by_test_id("message-text").filter(has_text="/help")
            await page.wait_for_function(  # both parts answered: "I understand commands..." twice
                "n => document.querySelectorAll('[data-testid=message-text]').length >= n", arg=8, timeout=15_000)
            assert await answers.count() >= 2
            await ui.act_as("赵主任")
            await ui.open(ui.unit_room)
            await ui.say("/close 1")
            await ui.wait_text("66.67%")
            await ui.act_as("王阿姨")
            await ui.open(wang["id"])
            alert = await ui.press("v1:b:1:y")  # the private ballot of a closed vote
            assert "现在无法操作" in alert and "已结束" in alert

            # English is one switch away, for the page and for the bot's answers.
            await page.get_by_test_id("lang-select").select_option("en")
            await page.get_by_test_id("send").filter(has_text="Send").wait_for()
            await ui.say("/me")
            await ui.wait_text("Language: en")
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "local-room-failure.png"), full_page=True)
            raise
        finally:
            await browser.close()
