"""/close answers in its room and queues the result for the other rooms of the vote's scope."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.chat.port import Chat, IncomingMessage, Sender
from bot.handlers.app import Yishi
from bot.i18n import Translator
from tests.scheduler.conftest import MODERATOR, World, outbox
from tests.support.chat import Recorder


async def test_close_posts_in_every_room_of_the_scope(world: World) -> None:
    vote = await world.vote("3-2")
    replans = []
    yishi = Yishi(world.db, Translator("en"), ZoneInfo("Asia/Shanghai"), ballot_edit_interval=0)
    yishi.replan = lambda: replans.append(1)
    messenger = Recorder()
    room = Chat("telegram", "-3", "group", "3-2")
    sender = Sender("telegram", MODERATOR.external_id, "Moderator", "en")
    await yishi.feed(IncomingMessage(1, sender, room, "1", f"/close {vote.proposal_id}"), messenger)
    assert [chat for chat, _m in messenger.sent] == ["-3"] and "Result of #" in messenger.sent[0][1].text
    queued = await outbox(world.db, f"vote-result:{vote.id}:")
    assert sorted(r.chat_id for r in queued) == ["-1", "-2"]  # room "all" and building 3; 3-1 and 4 see nothing
    assert replans == [1]
