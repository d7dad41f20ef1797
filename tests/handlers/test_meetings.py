"""/meeting fed directly: moderators schedule, move and cancel; anyone views; bad input changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from bot.chat.port import Chat
from bot.deliberation.scope import Scope
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.services import agenda
from bot.services.census import import_census, issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.rooms import bind_room, set_room_locale
from bot.storage import Database
from bot.storage.models import Community, Meeting, MeetingItem, OutboxMessage
from tests.handlers.test_app import text
from tests.support.chat import Recorder

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
ROOM = Chat("telegram", "-100", "group", "3-2")
MODERATOR = 9


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
async def app(db: Database, community: str, frozen: None) -> Yishi:
    await add_council_member(db, community, "telegram", str(MODERATOR))
    room = await bind_room(db, "telegram", ROOM.chat_id, "", 1, Scope.parse("3-2"), Actor("telegram", str(MODERATOR)))
    await set_room_locale(db, room.room_id, Actor("telegram", str(MODERATOR)), "en")  # the room posts in English
    yishi = Yishi(db, Translator("zh_CN"), ZoneInfo("Asia/Shanghai"), ballot_edit_interval=0)
    yishi.replanned = []  # type: ignore[attr-defined]
    yishi.replan = lambda: yishi.replanned.append(1)  # type: ignore[attr-defined]
    return yishi


async def accepted_proposal(db: Database, community: str) -> int:
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community, "3-2")}
    await redeem_code(db, "telegram", "1", codes["3-2-101"])
    async with db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
    proposal = (await agenda.propose(db, 1, Actor("telegram", "1"), "Fix the roof", scope="3-2")).proposal
    assert proposal is not None
    await agenda.accept(db, proposal.id, Actor("telegram", str(MODERATOR)))
    return proposal.id


async def meetings_count(db: Database) -> int:
    async with db.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(Meeting))).scalar_one())


async def say(app: Yishi, update_id: int, user: int, body: str, chat: Chat | None = ROOM) -> str:
    messenger = Recorder()
    await app.feed(text(update_id, user, body, chat), messenger)
    assert len(messenger.sent) == 1
    return messenger.sent[0][1].text


async def test_a_moderator_schedules_and_anyone_views(app: Yishi, db: Database, community: str) -> None:
    pid = await accepted_proposal(db, community)
    assert "No council meeting is scheduled" in await say(app, 1, 1, "/meeting")
    reply = await say(app, 2, MODERATOR, "/meeting 2026-12-05 19:30")
    assert "Council meeting scheduled for 2026-12-05 19:30." in reply
    assert "newly placed on its agenda: 1" in reply and "posted in the rooms the day before" in reply
    assert app.replanned == [1]  # type: ignore[attr-defined]
    view = await say(app, 3, 1, "/meeting")  # a resident, in the room
    assert "Council meeting on 2026-12-05 19:30. Agenda:" in view
    assert f"1. #{pid} Fix the roof (building 3, unit 2)" in view
    async with db.uow(readonly=True) as uow:
        told = (await uow.session.execute(select(OutboxMessage))).scalars().all()
    assert [(m.chat_id, m.chat_kind) for m in told] == [("1", "private")]
    # In the proposer's language, as their client last said (English here; the room default is Chinese).
    assert told[0].payload["text"] == f"Your proposal #{pid} Fix the roof is on the agenda of the council meeting on " \
        "2026-12-05 19:30."


async def test_a_new_date_moves_the_meeting(app: Yishi, db: Database, community: str) -> None:
    await say(app, 1, MODERATOR, "/meeting 2026-12-05 19:30")
    reply = await say(app, 2, MODERATOR, "/meeting 12-6 9:00")
    assert "moved from 2026-12-05 19:30 to 2026-12-06 09:00" in reply
    assert await meetings_count(db) == 1


async def test_cancel(app: Yishi, db: Database, community: str) -> None:
    assert "No council meeting is scheduled." in await say(app, 1, MODERATOR, "/meeting cancel")
    await say(app, 2, MODERATOR, "/meeting 2026-12-05 19:30")
    assert "was cancelled" in await say(app, 3, MODERATOR, "/meeting cancel")
    assert app.replanned == [1, 1]  # type: ignore[attr-defined]
    assert "No council meeting is scheduled" in await say(app, 4, 1, "/meeting")


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("/meeting 2026-02-30 19:30", "That date is not valid"),
        ("/meeting 2026-12-05 25:00", "That time is not valid"),
        ("/meeting 2026-11-01 19:30", "must be in the future"),
        ("/meeting 2030-01-01 19:30", "at most a year ahead"),
        ("/meeting tomorrow", "Usage: /meeting"),
        ("/meeting 2026-12-05 19:30 extra", "Usage: /meeting"),
    ],
)
async def test_bad_input_is_answered_and_changes_nothing(app: Yishi, db: Database, body: str, answer: str) -> None:
    assert answer in await say(app, 1, MODERATOR, body)
    assert await meetings_count(db) == 0 and app.replanned == []  # type: ignore[attr-defined]


async def test_residents_cannot_schedule_or_cancel(app: Yishi, db: Database, community: str) -> None:
    for i, body in enumerate(["/meeting 2026-12-05 19:30", "/meeting 2026-02-30 19:30", "/meeting cancel"]):
        assert "Only moderators" in await say(app, 10 + i, 1, body)
    assert await meetings_count(db) == 0


async def test_in_private_for_a_council_member_of_one_community(app: Yishi, db: Database, community: str) -> None:
    reply = await say(app, 1, MODERATOR, "/meeting 2026-12-05 19:30", chat=None)
    assert "Council meeting scheduled" in reply
    assert "Council meeting on 2026-12-05 19:30" in await say(app, 2, MODERATOR, "/meeting", chat=None)
    assert "in your community's group room" in await say(app, 3, 1, "/meeting", chat=None)
    # On two councils: which community is meant must be said in its room.
    await import_census(db, "Other", "building,unit,floor,room,area_m2,area_source,owner_id,owner_kind\n"
                                     "1,1,1,101,50.00,registry,X1,person\n")
    await add_council_member(db, "Other", "telegram", str(MODERATOR))
    reply = await say(app, 4, MODERATOR, "/meeting cancel", chat=None)
    assert "You sit on the councils of" in reply and "Other" in reply
    async with db.uow(readonly=True) as uow:
        assert (await uow.session.execute(select(Meeting.status))).scalar_one() == "scheduled"


async def test_an_unbound_room_is_told_to_bind(app: Yishi, db: Database) -> None:
    other = Chat("telegram", "-200", "group", "x")
    assert "/bind" in await say(app, 1, MODERATOR, "/meeting", chat=other)


async def test_accepting_in_the_chat_places_the_matter_and_tells_the_proposer(
    app: Yishi, db: Database, community: str
) -> None:
    await say(app, 1, MODERATOR, "/meeting 2026-12-05 19:30")
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community, "3-2")}
    await redeem_code(db, "telegram", "1", codes["3-2-101"])
    async with db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
    proposal = (await agenda.propose(db, 1, Actor("telegram", "1"), "Fix the roof", scope="3-2")).proposal
    assert "is on the agenda" in await say(app, 2, MODERATOR, f"/accept {proposal.id}")
    async with db.uow(readonly=True) as uow:
        item = (await uow.session.execute(select(MeetingItem))).scalar_one()
        told = (await uow.session.execute(select(OutboxMessage))).scalars().all()
    assert item.proposal_id == proposal.id and item.notified_at is not None
    assert [m.chat_id for m in told] == ["1"]
    assert app.replanned == [1, 1]  # type: ignore[attr-defined]
