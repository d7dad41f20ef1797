"""A whole Yishi, on a real runtime, talking HTTP to the in-repo fake Bot API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from bot.config import load_settings
from bot.fakeapi import FakeTelegram
from bot.fakeapi.server import StoredMessage
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.limits import Limits
from bot.services.census import issue_codes
from bot.services.council import add_council_member
from bot.storage import Database
from bot.transports import create_transport

TOKEN = "123456:e2e-token"
GROUP = -1003200  # the room of building unit 3-2
OTHER_GROUP = -1003100  # a room nobody bound
MODERATOR = 9000
TENANT = 5000
OUTSIDER = 6000  # owner of 3-1-101
OWNERS = {room: 3200 + i for i, room in enumerate(
    ["101", "102", "201", "202", "301", "302", "401", "402", "501", "502", "601", "602"], start=1)}


@dataclass
class World:
    fake: FakeTelegram
    app: Yishi
    db: Database
    codes: dict[str, str] = field(default_factory=dict)

    async def say(self, user: int, chat: int, text: str, timeout: float = 10.0) -> StoredMessage:
        """The user writes; returns the bot's first message after it (in a group: a public answer)."""
        sent = self.fake.send_text(user, chat, text)
        return await self.fake.wait_for_message(chat, lambda m: m.from_bot, timeout, after=sent.message_id)

    async def personal(self, user: int, chat: int, text: str, timeout: float = 10.0,
                       match: Callable[[str], bool] | None = None) -> StoredMessage:
        """A personal command in a group (Context.reply): its answer comes in the user's private chat.
        ``match`` tells it from a notice that may arrive there meanwhile."""
        mark = self._last_id(user)
        self.fake.send_text(user, chat, text)
        return await self.fake.wait_for_message(
            user, lambda m: m.from_bot and (match is None or match(m.text or "")), timeout, after=mark)

    def _last_id(self, chat: int) -> int:
        last = self.fake.last_message(chat)
        return last.message_id if last is not None else 0

    async def say_all(self, user: int, chat: int, text: str, count: int, timeout: float = 10.0) -> list[StoredMessage]:
        sent = self.fake.send_text(user, chat, text)
        await self.fake.wait_for(lambda: len(self._bot_after(chat, sent.message_id)) >= count, timeout)
        return self._bot_after(chat, sent.message_id)

    def _bot_after(self, chat: int, after: int) -> list[StoredMessage]:
        return [m for m in self.fake.messages(chat) if m.message_id > after and m.from_bot]

    async def press(self, user: int, chat: int, message: StoredMessage, data: str) -> str:
        """The user presses a button; returns the toast text."""
        query = self.fake.press_button(user, chat, message.message_id, data)
        answer = await self.fake.wait_for_callback_answer(query, timeout=10.0)
        return answer.text or ""

    async def settle(self, timeout: float = 10.0) -> None:
        """Until every live message (ballot, card) was edited to the state in the database."""
        async with asyncio.timeout(timeout):
            while not self.app.live.idle:
                await asyncio.sleep(0.02)

    def button(self, message: StoredMessage, prefix: str) -> str:
        found = [data for data in message.callback_data if data.startswith(prefix)]
        assert found, f"no button {prefix!r} on {message.text!r}: {message.callback_data}"
        return found[0]


@pytest.fixture(params=["aiogram", "ptb"])
async def world(request: pytest.FixtureRequest, db: Database, community: str) -> AsyncIterator[World]:
    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        fake.add_user(MODERATOR, "Moderator Li", language_code="en")
        fake.add_user(TENANT, "Tenant Zhao", language_code="en")
        fake.add_user(OUTSIDER, "Owner Qian", language_code="en")
        for room, user in OWNERS.items():
            fake.add_user(user, f"Owner {room}", language_code="zh-hans" if room == "602" else "en")
        everyone = [MODERATOR, TENANT, OUTSIDER, *OWNERS.values()]
        for user in everyone:
            fake.add_private_chat(user)
        fake.add_group(GROUP, "3-2 elevator room", members=everyone, admins=[MODERATOR])
        fake.add_group(OTHER_GROUP, "Unbound room", members=everyone, admins=[TENANT])
        await add_council_member(db, community, "telegram", str(MODERATOR))
        codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community)}
        settings = load_settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.base_url, TRANSPORT=request.param,
                                 DATABASE_URL=db.url)
        app = Yishi(db, Translator("zh_CN"), settings.tz, ballot_edit_interval=0.3)
        transport = create_transport(settings, app)
        await transport.start()
        # Every reply goes through the outbox, as in production; per-chat limits are off here so the
        # story does not wait out Telegram's 20 messages a minute per group (tests/outbox covers those).
        # A test marked ``@pytest.mark.outbox_limits(chat_per_second=1, ...)`` runs under those limits.
        marker = request.node.get_closest_marker("outbox_limits")
        limits = Limits(**{"global_per_second": 30, "chat_per_second": 0, "group_per_minute": 0,
                           **(marker.kwargs if marker else {})})
        outbox = Dispatcher(db, limits, boot_id=app.boot_id)
        outbox.attach(transport.messenger)
        await outbox.start()
        app.outbox = outbox
        await app.register_commands(transport.messenger)
        stop = asyncio.Event()
        polling = asyncio.create_task(transport.run_polling(stop))
        try:
            yield World(fake, app, db, codes)
        finally:
            stop.set()
            try:
                await asyncio.wait_for(polling, 60)  # a loaded machine (xdist workers) is slow to drain
            finally:
                try:
                    await app.close()
                    await outbox.stop()
                finally:
                    await transport.close()
