"""Council meetings: parsing, scheduling and moving, placing accepted matters, telling proposers once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.deliberation.errors import InvalidInput, NotEligible, NotFound
from bot.i18n import Translator
from bot.services import agenda, meetings
from bot.services.directory import Actor
from bot.services.meetings import Notices
from bot.storage import Database
from bot.storage.models import ChatRoom, Meeting, MeetingItem, OutboxMessage
from tests.services.conftest import MODERATOR, T0, census

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICES = Notices(Translator("en"), SHANGHAI)
UNIT = census(*[("1-1", f"{f}0{r}", f, "60.00", f"O{f}{r}", "person") for f in range(1, 4) for r in (1, 2)])
# T0 is 2026-11-02 09:00 in Shanghai.
DEC5 = datetime(2026, 12, 5, 11, 30, tzinfo=UTC)  # 19:30 in Shanghai


@pytest.fixture
async def cid(make_community) -> int:
    return await make_community(UNIT, support_fixed=1)


async def accepted(db: Database, cid: int, link, user: int, room: str, title: str, at: datetime) -> int:
    author = await link(cid, f"1-1-{room}", user)
    proposal = (await agenda.propose(db, cid, author, title, scope="1-1", now=at)).proposal
    assert proposal is not None and proposal.state == "review"
    await agenda.accept(db, proposal.id, MODERATOR, now=at)
    return proposal.id


async def outbox(db: Database, prefix: str = "") -> list[OutboxMessage]:
    async with db.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()
    return [row for row in rows if row.dedupe_key.startswith(prefix)]


async def count(db: Database, model: type) -> int:
    async with db.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(model))).scalar_one())


# --- parsing ----------------------------------------------------------------------------------------


def test_parse_full_and_short_dates_in_community_time() -> None:
    assert meetings.parse_when("2026-12-05", "19:30", SHANGHAI, T0) == DEC5
    assert meetings.parse_when("12-5", "19\uff1a30", SHANGHAI, T0) == DEC5  # full-width colon
    assert meetings.parse_when("12/05", "19:30", SHANGHAI, T0) == DEC5
    # 1 November has passed this year: the next such date is next year.
    assert meetings.parse_when("11-1", "09:00", SHANGHAI, T0) == datetime(2027, 11, 1, 1, 0, tzinfo=UTC)
    # Today, later on: still this year.
    assert meetings.parse_when("11-02", "10:00", SHANGHAI, T0) == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("day", "hour", "reason"),
    [
        ("2026-02-30", "19:30", "date"),
        ("2026-13-01", "19:30", "date"),
        ("tomorrow", "19:30", "date"),
        ("2-30", "19:30", "date"),
        ("2026-12-05", "24:00", "time"),
        ("2026-12-05", "7pm", "time"),
        ("2026-12-05", "19:60", "time"),
        ("2026-11-02", "09:00", "past"),
        ("2026-11-01", "19:30", "past"),
        ("2028-01-01", "19:30", "far"),
    ],
)
def test_parse_refusals(day: str, hour: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as error:
        meetings.parse_when(day, hour, SHANGHAI, T0)
    assert error.value.params == {"field": "meeting", "reason": reason}


# --- scheduling -------------------------------------------------------------------------------------


async def test_scheduling_places_accepted_matters_in_order_and_tells_proposers_once(
    db: Database, cid: int, link
) -> None:
    second = await accepted(db, cid, link, 2, "102", "Bike shed", T0 - timedelta(days=1))
    first = await accepted(db, cid, link, 1, "101", "Fix the roof", T0 - timedelta(days=2))
    done = await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    assert done.moved_from is None and done.placed == 2 and not done.agenda_posted
    view = await meetings.show(db, cid, now=T0)
    assert view is not None and view.meeting.starts_at == DEC5
    assert [(i.position, i.proposal.id) for i in view.items] == [(1, first), (2, second)]  # order of acceptance
    told = await outbox(db, "meeting-item:")
    assert sorted(m.chat_id for m in told) == ["1", "2"]
    assert all(m.chat_kind == "private" and m.member_id for m in told)
    assert "is on the agenda of the council meeting on 2026-12-05 19:30" in told[0].payload["text"]
    # Nothing new to tell: another pass adds nothing.
    assert await meetings.notify_pending(db, view.meeting.id, NOTICES, now=T0) == 0
    assert len(await outbox(db, "meeting-item:")) == 2
    async with db.uow(readonly=True) as uow:
        assert await uow.ledger.count("meeting_scheduled") == 1
        assert await uow.ledger.count("meeting_item_added") == 2


async def test_a_new_date_moves_the_meeting_and_tells_proposers_again(db: Database, cid: int, link) -> None:
    pid = await accepted(db, cid, link, 1, "101", "Fix the roof", T0)
    first = await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    later = DEC5 + timedelta(days=7)
    moved = await meetings.schedule(db, cid, MODERATOR, later, NOTICES, now=T0 + timedelta(hours=1))
    assert moved.meeting.id == first.meeting.id and moved.moved_from == DEC5 and moved.placed == 0
    assert await count(db, Meeting) == 1 and await count(db, MeetingItem) == 1
    told = await outbox(db, "meeting-item:")
    assert len(told) == 2
    assert "moved to 2026-12-12 19:30" in told[1].payload["text"] and f"#{pid}" in told[1].payload["text"]
    with pytest.raises(InvalidInput) as same:
        await meetings.schedule(db, cid, MODERATOR, later, NOTICES, now=T0 + timedelta(hours=2))
    assert same.value.params["reason"] == "same"
    async with db.uow(readonly=True) as uow:
        assert await uow.ledger.count("meeting_moved") == 1


async def test_refusals_change_nothing(db: Database, cid: int, link) -> None:
    await accepted(db, cid, link, 1, "101", "Fix the roof", T0)
    with pytest.raises(NotEligible):
        await meetings.schedule(db, cid, Actor("telegram", "1"), DEC5, NOTICES, now=T0)
    with pytest.raises(InvalidInput):
        await meetings.schedule(db, cid, MODERATOR, T0 - timedelta(minutes=1), NOTICES, now=T0)
    with pytest.raises(NotFound):
        await meetings.cancel(db, cid, MODERATOR, NOTICES, now=T0)
    assert await count(db, Meeting) == 0 and await count(db, MeetingItem) == 0
    assert await outbox(db, "meeting") == []
    await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    with pytest.raises(NotEligible):
        await meetings.cancel(db, cid, Actor("telegram", "1"), NOTICES, now=T0)
    assert (await meetings.show(db, cid, now=T0)) is not None


async def test_a_matter_accepted_later_joins_the_next_meeting_in_the_same_step(db: Database, cid: int, link) -> None:
    await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    author = await link(cid, "1-1-101", 1)
    p = (await agenda.propose(db, cid, author, "Paint the stairwell", scope="1-1", now=T0)).proposal
    await agenda.accept(db, p.id, MODERATOR, now=T0, notices=NOTICES)
    view = await meetings.show(db, cid, now=T0)
    assert [i.proposal.id for i in view.items] == [p.id]
    assert [m.chat_id for m in await outbox(db, "meeting-item:")] == ["1"]
    # Without notices the item waits, untold, for the job; the job tells once.
    other = await link(cid, "1-1-102", 2)
    q = (await agenda.propose(db, cid, other, "Bike shed", scope="1-1", now=T0)).proposal
    await agenda.accept(db, q.id, MODERATOR, now=T0)
    async with db.uow(readonly=True) as uow:
        item = (await uow.session.execute(select(MeetingItem).where(MeetingItem.proposal_id == q.id))).scalar_one()
    assert item.position == 2 and item.notified_at is None
    assert await meetings.notify_pending(db, item.meeting_id, NOTICES, now=T0) == 1
    assert await meetings.notify_pending(db, item.meeting_id, NOTICES, now=T0) == 0
    assert [m.chat_id for m in await outbox(db, "meeting-item:")] == ["1", "2"]


async def test_no_meeting_ahead_means_nothing_is_placed(db: Database, cid: int, link) -> None:
    await accepted(db, cid, link, 1, "101", "Fix the roof", T0)
    assert await count(db, MeetingItem) == 0


async def test_withdrawn_and_declined_matters_drop_off_the_agenda(db: Database, cid: int, link) -> None:
    keep = await accepted(db, cid, link, 1, "101", "Fix the roof", T0)
    gone = await accepted(db, cid, link, 2, "102", "Bike shed", T0 + timedelta(minutes=1))
    await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0 + timedelta(minutes=2))
    await agenda.withdraw_proposal(db, gone, Actor("telegram", "2"), now=T0 + timedelta(minutes=3))
    view = await meetings.show(db, cid, now=T0)
    assert [(i.position, i.proposal.id) for i in view.items] == [(1, keep)]


async def test_unreachable_proposers_are_skipped(db: Database, cid: int, link) -> None:
    await accepted(db, cid, link, 1, "101", "Fix the roof", T0)
    async with db.uow() as uow:
        member = await uow.member("telegram", "1")
        member.reachable = False
    await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    assert await outbox(db, "meeting-item:") == []


# --- the agenda in the rooms ------------------------------------------------------------------------


async def bind(db: Database, cid: int, *chat_ids: str) -> None:
    async with db.uow() as uow:
        for chat_id in chat_ids:
            uow.session.add(ChatRoom(platform="telegram", chat_id=chat_id, community_id=cid, scope="all"))


async def test_the_agenda_is_posted_once_in_every_room(db: Database, cid: int, link) -> None:
    await bind(db, cid, "-1", "-2")
    pid = await accepted(db, cid, link, 1, "101", "Fix the roof", T0)
    done = await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    mid = done.meeting.id
    assert not await meetings.post_agenda(db, mid, NOTICES, now=T0)  # a month early: a stale job
    day_before = DEC5 - timedelta(hours=24)
    assert await meetings.post_agenda(db, mid, NOTICES, now=day_before)
    assert not await meetings.post_agenda(db, mid, NOTICES, now=day_before + timedelta(seconds=5))
    posts = await outbox(db, "meeting-agenda:")
    assert sorted(m.chat_id for m in posts) == ["-1", "-2"] and all(m.chat_kind == "group" for m in posts)
    assert "Council meeting on 2026-12-05 19:30. Agenda:" in posts[0].payload["text"]
    assert f"1. #{pid} Fix the roof (building 1, unit 1)" in posts[0].payload["text"]
    async with db.uow(readonly=True) as uow:
        assert (await uow.session.get(Meeting, mid)).agenda_posted_at == day_before
        assert await uow.ledger.count("meeting_agenda_posted") == 1
    assert not await meetings.post_agenda(db, mid, NOTICES, now=DEC5)  # the meeting has begun


async def test_a_matter_added_after_the_agenda_was_posted_is_an_addendum(db: Database, cid: int, link) -> None:
    await bind(db, cid, "-1")
    early = await accepted(db, cid, link, 2, "102", "Bike shed", T0)
    soon = T0 + timedelta(hours=10)
    done = await meetings.schedule(db, cid, MODERATOR, soon, NOTICES, now=T0)
    assert done.agenda_posted  # less than 24 h ahead: posted at once
    assert f"1. #{early} Bike shed" in (await outbox(db, "meeting-agenda:"))[0].payload["text"]
    assert await outbox(db, "meeting-addendum:") == []  # it was in the agenda itself
    pid = await accepted(db, cid, link, 1, "101", "Fix the roof", T0)  # accepted without notices
    await meetings.notify_pending(db, done.meeting.id, NOTICES, now=T0 + timedelta(minutes=1))
    addenda = await outbox(db, "meeting-addendum:")
    assert [m.chat_id for m in addenda] == ["-1"] and f"#{pid} Fix the roof" in addenda[0].payload["text"]


async def test_moving_after_the_agenda_was_posted_tells_the_rooms_and_posts_again(
    db: Database, cid: int, link
) -> None:
    await bind(db, cid, "-1")
    soon = T0 + timedelta(hours=10)
    done = await meetings.schedule(db, cid, MODERATOR, soon, NOTICES, now=T0)
    await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0 + timedelta(hours=1))
    assert len(await outbox(db, "meeting-moved:")) == 1
    async with db.uow(readonly=True) as uow:
        assert (await uow.session.get(Meeting, done.meeting.id)).agenda_posted_at is None
    assert await meetings.post_agenda(db, done.meeting.id, NOTICES, now=DEC5 - timedelta(hours=23))
    assert len(await outbox(db, "meeting-agenda:")) == 2  # one for each date


async def test_cancel_tells_proposers_and_their_matters_wait_for_the_next_meeting(
    db: Database, cid: int, link
) -> None:
    pid = await accepted(db, cid, link, 1, "101", "Fix the roof", T0)
    first = await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    cancelled = await meetings.cancel(db, cid, MODERATOR, NOTICES, now=T0)
    assert cancelled.status == "cancelled" and await meetings.show(db, cid, now=T0) is None
    notes = await outbox(db, "meeting-cancelled:")
    assert [m.chat_id for m in notes] == ["1"] and "stays on the agenda" in notes[0].payload["text"]
    second = await meetings.schedule(db, cid, MODERATOR, DEC5 + timedelta(days=1), NOTICES, now=T0)
    assert second.meeting.id != first.meeting.id and second.placed == 1
    assert [i.proposal.id for i in (await meetings.show(db, cid, now=T0)).items] == [pid]


async def test_a_past_meeting_counts_as_held_and_its_open_matters_carry_over(db: Database, cid: int, link) -> None:
    pid = await accepted(db, cid, link, 1, "101", "Fix the roof", T0)
    first = await meetings.schedule(db, cid, MODERATOR, DEC5, NOTICES, now=T0)
    after = DEC5 + timedelta(days=1)
    assert await meetings.show(db, cid, now=after) is None
    second = await meetings.schedule(db, cid, MODERATOR, after + timedelta(days=30), NOTICES, now=after)
    assert second.moved_from is None and second.placed == 1
    async with db.uow(readonly=True) as uow:
        assert (await uow.session.get(Meeting, first.meeting.id)).status == "held"
        assert await uow.ledger.count("meeting_held") == 1
    assert [i.proposal.id for i in (await meetings.show(db, cid, now=after)).items] == [pid]
