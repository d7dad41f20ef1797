"""The handlers' entry point, fed directly: duplicates, forged and stale presses, errors, limits."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.chat.port import (
    ButtonPress,
    Chat,
    ChatMigrated,
    IncomingMessage,
    MembershipChange,
    Sender,
)
from bot.deliberation.scope import Scope
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.services import agenda, voting
from bot.services.census import issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.rooms import bind_room
from bot.storage import Database
from bot.storage.models import Ballot, ChatRoom, Member, Proposal
from tests.support.chat import Recorder

GROUP = Chat("telegram", "-100", "group", "3-2")


def sender(user: int) -> Sender:
    return Sender("telegram", str(user), f"User {user}", "en")


def text(update_id: int, user: int, body: str, chat: Chat | None = None) -> IncomingMessage:
    return IncomingMessage(update_id, sender(user), chat or Chat("telegram", str(user), "private"), str(update_id),
                           body)


def press(update_id: int, user: int, data: str, chat: Chat = GROUP) -> ButtonPress:
    return ButtonPress(update_id, sender(user), chat, "7", f"q{update_id}", data)


@pytest.fixture
async def yishi(db: Database, community: str) -> Yishi:
    return Yishi(db, Translator("zh_CN"), __import__("zoneinfo").ZoneInfo("Asia/Shanghai"), ballot_edit_interval=0)


async def _open_vote(db: Database, community: str) -> tuple[int, int]:
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community, "3-2")}
    await redeem_code(db, "telegram", "1", codes["3-2-101"])
    await add_council_member(db, community, "telegram", "9")
    moderator = Actor("telegram", "9")
    await bind_room(db, "telegram", GROUP.chat_id, "", 1, Scope.parse("3-2"), moderator)
    author = Actor("telegram", "1")
    async with db.uow() as uow:
        from bot.storage.models import Community

        uow.session.add((await uow.session.execute(select(Community))).scalar_one())
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
    proposal = (await agenda.propose(db, 1, author, "Elevator", scope="3-2", category="elevator")).proposal
    await agenda.accept(db, proposal.id, moderator)
    vote = await voting.open_vote(db, proposal.id, moderator, "elevator", 7)
    return proposal.id, vote.id


async def test_a_redelivered_update_is_processed_once(yishi: Yishi, db: Database, community: str) -> None:
    _, vote_id = await _open_vote(db, community)
    messenger = Recorder()
    event = press(500, 1, f"v1:b:{vote_id}:y")
    await yishi.feed(event, messenger)
    await yishi.feed(event, messenger)
    assert len(messenger.toasts) == 1
    async with db.uow() as uow:
        assert await uow.ledger.count("ballot_cast") == 1


async def test_forged_and_stale_presses_change_nothing(yishi: Yishi, db: Database, community: str) -> None:
    proposal_id, vote_id = await _open_vote(db, community)
    messenger = Recorder()
    for i, data in enumerate(["garbage", "v1:b:999:y", f"v1:b:{vote_id}:q", "v2:b:1:y", "v1:ap:1:a",
                              f"v1:b:{vote_id}:y" + "9" * 60]):
        await yishi.feed(press(600 + i, 77, data), messenger)  # user 77 is registered nowhere
    assert all(alert for _text, alert in messenger.toasts) and len(messenger.toasts) == 6
    await voting.close_vote(db, vote_id, Actor("telegram", "9"))
    await yishi.feed(press(700, 1, f"v1:b:{vote_id}:y"), messenger)  # the owner, after the close
    assert "closed" in messenger.toasts[-1][0]
    async with db.uow() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(Ballot))).scalar_one() == 0


async def test_text_over_4096_characters_is_refused(yishi: Yishi, db: Database, community: str) -> None:
    messenger = Recorder()
    await yishi.feed(text(800, 1, "/propose " + "长" * 4100, GROUP), messenger)
    assert "too long" in messenger.sent[-1][1].text
    async with db.uow() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(Proposal))).scalar_one() == 0


async def test_an_unexpected_error_gets_an_apology(yishi: Yishi, db: Database, community: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.handlers import registration

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(registration, "redeem_code", boom)
    messenger = Recorder()
    await yishi.feed(text(900, 1, "/register ABCD-2345"), messenger)
    assert "Sorry, something went wrong" in messenger.sent[-1][1].text
    await yishi.feed(press(901, 1, "v1:s:1"), messenger)  # no proposal 1: a clean refusal, no crash
    assert messenger.toasts[-1][1] is True


async def test_blocking_the_bot_marks_the_member_unreachable(yishi: Yishi, db: Database) -> None:
    messenger = Recorder()
    await yishi.feed(MembershipChange(950, Chat("telegram", "5", "private"), sender(5), "kicked"), messenger)
    async with db.uow() as uow:
        member = (await uow.session.execute(select(Member).where(Member.external_id == "5"))).scalar_one()
    assert member.reachable is False


async def test_a_migrated_group_keeps_its_room_once(yishi: Yishi, db: Database, community: str) -> None:
    await add_council_member(db, community, "telegram", "9")
    await bind_room(db, "telegram", GROUP.chat_id, "", 1, Scope.parse("3-2"), Actor("telegram", "9"))
    for update_id in (960, 961):  # the same migration seen twice (an update, then a send's error)
        await yishi.feed(ChatMigrated(update_id, GROUP, "-100999"), Recorder())
    async with db.uow(readonly=True) as uow:
        room = (await uow.session.execute(select(ChatRoom))).scalar_one()
        assert room.chat_id == "-100999"
        assert await uow.ledger.count("room_migrated") == 1


async def test_group_admin_of_an_unbound_room_cannot_bind(yishi: Yishi, db: Database, community: str) -> None:
    messenger = Recorder(admins={"42"})
    await yishi.feed(text(960, 42, "/bind 3-2", Chat("telegram", "-555", "group")), messenger)
    assert "Only moderators" in messenger.sent[-1][1].text


async def test_an_update_left_unfinished_by_a_crashed_process_is_handled_again(yishi: Yishi, db: Database) -> None:
    from bot.storage.models import InboxUpdate, utcnow

    bot = yishi.inbox.bot
    async with db.uow() as uow:
        uow.session.add(InboxUpdate(bot=bot, update_id=1200, claimed_by="dead-process", claimed_at=utcnow()))
        uow.session.add(InboxUpdate(bot=bot, update_id=1201, claimed_by=yishi.boot_id, claimed_at=utcnow()))
        uow.session.add(InboxUpdate(bot=bot, update_id=1202, claimed_by="dead-process", claimed_at=utcnow(),
                                    handled_at=utcnow()))
        uow.session.add(InboxUpdate(bot="telegram:999", update_id=1203, handled_at=utcnow()))  # another bot's
    messenger = Recorder()
    await yishi.feed(text(1200, 1, "/help"), messenger)  # the crashed process never answered: we do
    await yishi.feed(text(1201, 1, "/help"), messenger)  # in hand in this very process: not twice
    await yishi.feed(text(1202, 1, "/help"), messenger)  # handled: never again
    await yishi.feed(text(1200, 1, "/help"), messenger)  # and now handled by us
    await yishi.feed(text(1203, 1, "/help"), messenger)  # the same id for another bot is another update
    assert len(messenger.sent) == 2
    async with db.uow() as uow:
        row = await uow.session.get(InboxUpdate, (bot, 1200))
    assert row is not None and row.handled_at is not None and row.claimed_by == yishi.boot_id
