"""The inbox: stored once, claimed once, taken over from a dead process, purged after Telegram's window."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from bot.chat.port import MessengerError
from bot.handlers.app import Yishi
from bot.storage import Database
from bot.storage.inbox import Inbox, bot_key, claim_handled
from bot.storage.models import InboxUpdate, utcnow
from tests.handlers.test_app import _open_vote, press, yishi  # noqa: F401 - the fixture
from tests.support.chat import Recorder

BOT = "telegram:424242"


def test_the_bot_key_is_the_platform_and_the_bot_id_from_the_token() -> None:
    assert bot_key("telegram", "424242:secret-part") == BOT


async def _rows(db: Database) -> dict[int, InboxUpdate]:
    async with db.uow(readonly=True) as uow:
        return {r.update_id: r for r in (await uow.session.execute(select(InboxUpdate))).scalars()}


async def test_storing_twice_keeps_the_first_row_and_its_state(db: Database) -> None:
    inbox = Inbox(db, "boot-a", BOT)
    await inbox.store([(1, '{"update_id": 1}', False), (2, '{"update_id": 2}', True)])
    assert await inbox.claim(1)
    await inbox.finish(1)
    await inbox.store([(1, '{"update_id": 1}', False)])  # Telegram delivers it again
    rows = await _rows(db)
    assert rows[1].handled_at is not None and rows[2].handled_at is not None  # 2 had nothing to do
    assert not await inbox.claim(1)


async def test_a_batch_claim_takes_each_update_once_and_never_a_live_claim_of_another(db: Database) -> None:
    inbox = Inbox(db, "boot-a", BOT)
    await inbox.store([(1, "{}", False), (2, "{}", False), (3, "{}", False)])
    assert await inbox.claim(3)  # boot-a is handling 3 the slow way
    async with db.uow() as uow:
        assert await claim_handled(uow, [(BOT, 1), (BOT, 2), (BOT, 2), (BOT, 3), (BOT, 4)], "boot-b") == {
            (BOT, 1), (BOT, 2), (BOT, 4)}  # 4 was never stored (fed directly): claimed all the same
    async with db.uow() as uow:
        assert await claim_handled(uow, [(BOT, 1), (BOT, 3)], "boot-b") == set()
    async with db.uow() as uow:
        assert await claim_handled(uow, [(BOT, 3)], "boot-a") == {(BOT, 3)}  # its own claim


async def test_a_dead_process_claims_are_handled_and_its_unanswered_presses_confirmed(db: Database) -> None:
    dead = Inbox(db, "boot-dead", BOT)
    await dead.store([(1, '{"a": 1}', False), (2, '{"a": 2}', False), (3, '{"a": 3}', False)])
    assert await dead.claim(1)  # died while handling 1; 2 stored, never claimed
    async with db.uow() as uow:
        await claim_handled(uow, [(BOT, 3)], "boot-dead")  # 3 recorded, but never answered
    alive = Inbox(db, "boot-new", BOT)  # SQLite: one process at a time, so another boot is a dead one
    assert await alive.unhandled(everything=False) == []  # not old enough to be orphans yet
    assert await alive.unhandled(everything=True) == [(1, '{"a": 1}'), (2, '{"a": 2}')]
    assert await alive.unanswered() == [(3, '{"a": 3}')]
    assert await alive.unanswered() == []  # now claimed by the living process
    alive.answered(3)
    await alive.flush()
    assert (await _rows(db))[3].answered_at is not None


async def test_handled_updates_are_purged_after_telegrams_24_hours(db: Database) -> None:
    inbox = Inbox(db, "boot-a", BOT)
    with time_machine.travel(utcnow() - timedelta(hours=25), tick=False):
        await inbox.store([(1, "{}", False), (2, "{}", False)])
        await inbox.finish(1)  # 2 was never handled: it is kept until it is
    await inbox.store([(3, "{}", True)])
    assert await inbox.purge() == 1
    assert sorted(await _rows(db)) == [2, 3]
    with time_machine.travel(utcnow() + timedelta(hours=25), tick=False):
        assert await inbox.purge() == 1  # 3, handled on arrival
    assert sorted(await _rows(db)) == [2]


class TooLate(Recorder):
    """Telegram refuses to answer the press: the query is older than its answer window."""

    async def toast(self, press, text, *, alert=False):  # type: ignore[no-untyped-def]
        raise MessengerError("Bad Request: query is too old and response timeout expired or query ID is invalid")


async def test_a_press_too_old_to_toast_is_confirmed_in_private(yishi: Yishi, db: Database,  # noqa: F811
                                                                community: str) -> None:
    _, vote_id = await _open_vote(db, community)
    messenger = TooLate()
    await yishi.feed(press(700, 1, f"v1:b:{vote_id}:y"), messenger)
    assert [(chat, m.text) for chat, m in messenger.sent] == [
        ("1", f"Vote #{vote_id}: Recorded: Yes.\nYou can change it until "
              f"{messenger.sent[0][1].text.rsplit('until ', 1)[1]}")]
    await yishi.inbox.flush()
    assert (await _rows(db))[700].answered_at is not None


async def test_a_press_recorded_but_never_answered_gets_its_standing(yishi: Yishi, db: Database,  # noqa: F811
                                                                     community: str) -> None:
    _, vote_id = await _open_vote(db, community)
    recorder = Recorder()
    await yishi.feed(press(701, 1, f"v1:b:{vote_id}:n"), recorder)
    await yishi.confirm(press(701, 1, f"v1:b:{vote_id}:n"), recorder)  # as after a restart
    assert recorder.toasts[-1][0].startswith(f"Your ballot in vote #{vote_id} is recorded: No.")
    late = TooLate()
    await yishi.confirm(press(702, 2, f"v1:b:{vote_id}:y"), late)  # member 2 has no ballot
    assert late.sent[0][1].text == f"Your press in vote #{vote_id} was not recorded. Please press the button again."
