"""The group pointer is limited per member and community-local day in the database: a restart keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import time_machine

from bot.chat.port import Chat, IncomingMessage, MessengerError, OutMessage, Sender, SentMessage
from bot.deliberation.scope import Scope
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.rooms import bind_room
from bot.storage import Database
from tests.handlers.test_app import Recorder

ROOM = Chat("telegram", "-100", "group", "3-2")
NEWCOMER = Sender("telegram", "4242", "Newcomer Sun", "en")
# 23:30 in Shanghai; the next community-local day starts 30 minutes later.
LATE = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)


@dataclass
class NoPrivateChat(Recorder):
    """Telegram's answer to a private message for someone who never started the bot."""

    async def send(self, chat_id: str, message: OutMessage, *, reply_to: str | None = None) -> SentMessage:
        if not chat_id.startswith("-"):
            raise MessengerError("Forbidden: bot can't initiate conversation with a user", blocked=True)
        return await super().send(chat_id, message, reply_to=reply_to)


def _app(db: Database) -> Yishi:
    return Yishi(db, Translator("zh_CN"), ZoneInfo("Asia/Shanghai"), ballot_edit_interval=0)


async def test_one_pointer_a_local_day_across_a_restart(db: Database, community: str) -> None:
    await add_council_member(db, community, "telegram", "9000")
    await bind_room(db, "telegram", ROOM.chat_id, "3-2", 1, Scope.parse("3-2"), Actor("telegram", "9000"))
    messenger = NoPrivateChat()
    with time_machine.travel(LATE, tick=False):
        first = _app(db)
        await first.feed(IncomingMessage(1, NEWCOMER, ROOM, "11", "/help"), messenger)
        await first.feed(IncomingMessage(2, NEWCOMER, ROOM, "12", "/me"), messenger)
        await first.close()
        restarted = _app(db)  # a new process: the day's pointer is in the database
        await restarted.feed(IncomingMessage(3, NEWCOMER, ROOM, "13", "/show 1"), messenger)
        assert [chat for chat, _m in messenger.sent] == [ROOM.chat_id]
        assert "Newcomer Sun" in messenger.sent[0][1].text and "@" in messenger.sent[0][1].text
    with time_machine.travel(datetime(2026, 12, 3, 16, 0, 1, tzinfo=UTC), tick=False):  # 00:00:01 local
        await restarted.feed(IncomingMessage(4, NEWCOMER, ROOM, "14", "/help"), messenger)
        await restarted.feed(IncomingMessage(5, NEWCOMER, ROOM, "15", "/help"), messenger)
    await restarted.close()
    assert [chat for chat, _m in messenger.sent] == [ROOM.chat_id, ROOM.chat_id]
