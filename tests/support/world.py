"""One test world: a community in a real database, and (for chat tests) a whole Yishi on a real runtime
talking HTTP to the in-repo fake Bot API.

tests/scheduler builds it at the services level (rooms bound directly, ``vote`` opens a vote);
tests/e2e adds ``fake`` and ``app`` and drives it through the chat (``say``, ``press``, ``settle``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.chat.port import Messenger
from bot.fakeapi import FakeTelegram
from bot.fakeapi.server import StoredMessage
from bot.handlers.app import Yishi
from bot.services import agenda, voting
from bot.services.directory import Actor
from bot.storage import Database
from bot.storage.models import Vote, utcnow


@dataclass
class World:
    db: Database
    community: str
    community_id: int
    moderator: Actor
    t0: datetime = field(default_factory=utcnow)  # "now" for services-level helpers
    fake_api: FakeTelegram | None = None
    yishi: Yishi | None = None
    messenger: Messenger | None = None  # the runtime's own (the e2e fixture's transport)
    codes: dict[str, str] = field(default_factory=dict)  # "3-2-101" -> its invite code

    @property
    def fake(self) -> FakeTelegram:
        assert self.fake_api is not None, "no fake Bot API in this world (the e2e fixture has one)"
        return self.fake_api

    @property
    def app(self) -> Yishi:
        assert self.yishi is not None, "no running Yishi in this world (the e2e fixture has one)"
        return self.yishi

    # ------------------------------------------------------------------ services level

    async def vote(self, scope: str = "3-2", days: int = 7, now: datetime | None = None,
                   title: str = "Paint the stairwell", author: str = "1") -> Vote:
        now = now or self.t0
        proposal = (await agenda.propose(self.db, self.community_id, Actor("telegram", author), title, scope=scope,
                                         force=True, now=now)).proposal
        assert proposal is not None and proposal.id is not None
        await agenda.accept(self.db, proposal.id, self.moderator, now=now)
        return await voting.open_vote(self.db, proposal.id, self.moderator, "art278", days, now=now)

    # ------------------------------------------------------------------ through the chat

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
