"""/digest and /progress fed directly to the handlers: settings, refusals, languages, replanning."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.chat.port import Chat, IncomingMessage, Sender
from bot.deliberation.scope import Scope
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.services import agenda, voting
from bot.services.census import issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.rooms import bind_room, set_room_locale
from bot.storage import Database
from bot.storage.models import Community, DigestSubscription, Proposal
from tests.handlers.test_app import GROUP, text
from tests.support.chat import Recorder

MODERATOR = "9"


@pytest.fixture
async def app(db: Database, community: str) -> Yishi:
    yishi = Yishi(db, Translator("zh_CN"), ZoneInfo("Asia/Shanghai"), ballot_edit_interval=0)
    yishi.replans = 0  # type: ignore[attr-defined]

    def replan() -> None:
        yishi.replans += 1  # type: ignore[attr-defined]

    yishi.replan = replan
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community, "3-2")}
    await redeem_code(db, "telegram", "1", codes["3-2-101"])
    await add_council_member(db, community, "telegram", MODERATOR)
    return yishi


async def _bind(db: Database) -> None:
    room = await bind_room(db, "telegram", GROUP.chat_id, "", 1, Scope.parse("3-2"), Actor("telegram", MODERATOR))
    await set_room_locale(db, room.room_id, Actor("telegram", MODERATOR), "en")  # the room posts in English


class Chatter:
    """Sends commands with increasing update ids and returns the bot's last answer."""

    def __init__(self, app: Yishi) -> None:
        self.app, self.messenger, self.update = app, Recorder(), 1000

    async def say(self, user: int | str, body: str, chat: Chat | None = None, language: str = "en") -> str:
        self.update += 1
        event = text(self.update, int(user), body, chat)
        if language != "en":
            event = IncomingMessage(event.update_id, Sender("telegram", str(user), f"User {user}", language),
                                    event.chat, event.message_id, event.text)
        before = len(self.messenger.sent)
        await self.app.feed(event, self.messenger)
        # Private notices to others (a matter's followers) may go out too. The answer is in this chat, or (a
        # personal answer to a command said in a group: the group's budget) in the member's private chat.
        sent = self.messenger.sent[before:]
        here = [m for chat_id, m in sent if chat_id == event.chat.chat_id]
        if not here and event.chat.kind != "private":
            here = [m for chat_id, m in sent if chat_id == str(user)]
        assert len(here) == 1, "exactly one answer"
        return here[0].text


async def _subscriptions(db: Database) -> list[DigestSubscription]:
    async with db.uow(readonly=True) as uow:
        return list((await uow.session.execute(select(DigestSubscription).order_by(DigestSubscription.id))).scalars())


async def test_a_rooms_digest_is_set_by_moderators(app: Yishi, db: Database) -> None:
    chat = Chatter(app)
    assert "not bound" in await chat.say(MODERATOR, "/digest daily 20:00", GROUP)
    await _bind(db)
    assert "no digest" in await chat.say(1, "/digest", GROUP)
    refusal = "Only council members and this room's admins"
    assert refusal in await chat.say(1, "/digest daily 20:00", GROUP)
    assert refusal in await chat.say(1, "/digest weekly nonsense", GROUP)  # refused before parsing
    assert "Unknown time 25:00" in await chat.say(MODERATOR, "/digest daily 25:00", GROUP)
    assert "Unknown day someday" in await chat.say(MODERATOR, "/digest weekly someday 09:00", GROUP)
    assert "Say which day" in await chat.say(MODERATOR, "/digest weekly", GROUP)
    assert "Usage:" in await chat.say(MODERATOR, "/digest sometimes", GROUP)
    assert "Usage:" in await chat.say(MODERATOR, "/digest daily 20:00 21:00", GROUP)
    assert await _subscriptions(db) == [] and app.replans == 0  # type: ignore[attr-defined]

    answer = await chat.say(MODERATOR, "/digest weekly \u5468\u4e00 9:00", GROUP)  # Chinese for Monday
    assert "weekly on Monday at 09:00" in answer and app.replans == 1  # type: ignore[attr-defined]
    (sub,) = await _subscriptions(db)
    assert (sub.cadence, sub.weekday, sub.at_time, sub.room_id) == ("weekly", 0, "09:00", 1)
    assert "daily at 20:00" in await chat.say(MODERATOR, "/digest daily", GROUP)  # the default time
    assert "This room's digest: daily at 20:00." in await chat.say(1, "/digest", GROUP)
    chinese = await chat.say(1, "/digest", GROUP, language="zh-hans")
    assert "\u6bcf\u5929 20:00" in chinese  # "every day 20:00"
    assert "is off" in await chat.say(MODERATOR, "/digest off", GROUP)
    assert "no digest" in await chat.say(MODERATOR, "/digest off", GROUP)
    assert await _subscriptions(db) == [] and app.replans == 3  # type: ignore[attr-defined]


async def test_a_member_subscribes_to_a_private_digest(app: Yishi, db: Database) -> None:
    chat = Chatter(app)
    assert "Register your home first" in await chat.say(77, "/digest me daily")
    assert "no private digest" in await chat.say(1, "/digest")
    assert "Unknown time 7" in await chat.say(1, "/digest me daily 7")
    assert "Unknown day xx" in await chat.say(1, "/digest weekly xx")
    assert await _subscriptions(db) == []
    answer = await chat.say(1, "/digest daily 7:30")  # in private, "me" goes without saying
    assert "private digest for" in answer and "daily at 07:30" in answer
    assert "weekly on Sunday at 20:00" in await chat.say(1, "/digest me weekly sun")
    (sub,) = await _subscriptions(db)
    assert (sub.cadence, sub.weekday, sub.at_time) == ("weekly", 6, "20:00")
    assert sub.member_id is not None and sub.room_id is None
    assert "weekly on Sunday at 20:00" in await chat.say(1, "/digest")
    await _bind(db)
    assert "weekly on Sunday" in await chat.say(1, "/digest me", GROUP)  # own setting, asked in a room
    assert "private digest is off" in await chat.say(1, "/digest me off", GROUP)
    assert await _subscriptions(db) == []
    assert app.replans == 3  # type: ignore[attr-defined]


async def _adopted(db: Database) -> int:
    async with db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
    author, moderator = Actor("telegram", "1"), Actor("telegram", MODERATOR)
    proposal = (await agenda.propose(db, 1, author, "Benches by the door", scope="3-2")).proposal
    await agenda.accept(db, proposal.id, moderator)
    vote = await voting.open_vote(db, proposal.id, moderator, "simple", 1)
    await voting.cast_ballot(db, vote.id, author, "yes")
    await voting.close_vote(db, vote.id, moderator)
    return proposal.id


async def test_progress_is_recorded_and_announced(app: Yishi, db: Database) -> None:
    await _bind(db)
    pid = await _adopted(db)
    chat = Chatter(app)
    assert "Only moderators" in await chat.say(1, f"/progress {pid} ordered", GROUP)
    assert "Usage:" in await chat.say(MODERATOR, "/progress", GROUP)
    assert "Usage:" in await chat.say(MODERATOR, f"/progress {pid}", GROUP)
    assert "Give the proposal number" in await chat.say(MODERATOR, "/progress x ordered", GROUP)
    assert "no proposal #999" in await chat.say(MODERATOR, "/progress 999 ordered", GROUP)
    answer = await chat.say(MODERATOR, f"/progress {pid} benches ordered from the factory", GROUP)
    assert answer == f"Implementation of #{pid} Benches by the door has started: benches ordered from the factory"
    assert "Progress on" in await chat.say(MODERATOR, f"/progress {pid} delivered", GROUP)
    assert "is done. Installed" in await chat.say(MODERATOR, f"/progress {pid} done Installed", GROUP)
    assert "Not possible now: it is done." in await chat.say(MODERATOR, f"/progress {pid} done", GROUP)
    async with db.uow() as uow:
        assert (await uow.session.get(Proposal, pid)).state == "done"
        assert await uow.ledger.count("implementation_progress") == 2
        assert await uow.ledger.count("implementation_done") == 1
    history = await chat.say(1, f"/show {pid}", GROUP)
    assert "implementation: delivered" in history and "implementation done Installed" in history


async def test_a_moderator_command_changes_nothing_on_bad_input(app: Yishi, db: Database) -> None:
    await _bind(db)
    chat = Chatter(app)
    for body in ("/digest daily 24:00", "/digest weekly mon 9", "/digest weekly funday", "/digest hourly"):
        await chat.say(MODERATOR, body, GROUP)
    async with db.uow() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(DigestSubscription))).scalar_one() == 0
        assert await uow.ledger.count("digest_set") == 0
