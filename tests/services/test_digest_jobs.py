"""The digest job: cron plans, one digest per slot, nothing when nothing changed, parts under 4096, languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.deliberation.scope import Scope
from bot.i18n import Translator
from bot.scheduler import digests as jobs
from bot.scheduler.context import JobContext, set_context
from bot.scheduler.jobs import planners
from bot.services import agenda, digests
from bot.services.digests import Schedule
from bot.services.rooms import bind_room
from bot.storage import Database
from bot.storage.models import DigestSubscription, Member, OutboxMessage
from tests.services.conftest import MODERATOR, T0, census

TZ = ZoneInfo("Asia/Shanghai")
HOMES = census(*[("1-1", f"{f}01", f, "80.00", f"A{f}", "person") for f in range(1, 5)],
               ("2-1", "101", 1, "70.00", "B1", "person"))
# 2026-11-02 is a Monday; 12:00 UTC is 20:00 in Shanghai.
EVENING = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def i18n() -> Translator:
    return Translator("zh_CN")


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.uow(readonly=True) as uow:
        return list((await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def _subscription(db: Database, sub_id: int) -> DigestSubscription:
    async with db.uow(readonly=True) as uow:
        sub = await uow.session.get(DigestSubscription, sub_id)
        assert sub is not None
        return sub


async def _head(db: Database) -> int:
    async with db.uow(readonly=True) as uow:
        return int((await uow.ledger.head())["seq"])


async def _setup(db: Database, make_community, link) -> tuple[int, int, list]:
    cid = await make_community(HOMES, support_fixed=1)
    owners = [await link(cid, f"1-1-{f}01", f) for f in range(1, 5)]
    room = (await bind_room(db, "telegram", "-100", "", cid, Scope.parse("1-1"), MODERATOR)).room_id
    sub = await digests.set_room_digest(db, room, MODERATOR, Schedule("daily", "20:00"), now=T0)
    return cid, sub.id, owners


def test_the_planner_is_registered() -> None:
    assert jobs.plan_digests in planners()


async def test_one_cron_job_per_subscription(db: Database, make_community, link) -> None:
    cid, room_sub, owners = await _setup(db, make_community, link)
    mine = (await digests.set_member_digest(db, owners[0], Schedule("weekly", "09:30", 0), now=T0))[0]
    planned = {job.id: job for job in await jobs.plan_digests(db, T0)}
    assert set(planned) == {f"digest:{room_sub}", f"digest:{mine.subscription.id}"}
    daily, weekly = planned[f"digest:{room_sub}"], planned[f"digest:{mine.subscription.id}"]
    assert daily.cron == {"hour": 20, "minute": 0} and daily.run_at is None
    assert weekly.cron == {"hour": 9, "minute": 30, "day_of_week": "mon"}
    assert daily.func == "bot.scheduler.digests:send_digest" and daily.args == (room_sub,)
    await digests.clear_member_digest(db, owners[0])
    assert [job.id for job in await jobs.plan_digests(db, T0)] == [f"digest:{room_sub}"]


def test_a_late_run_belongs_to_its_slot() -> None:
    daily, monday = Schedule("daily", "20:00"), Schedule("weekly", "09:00", 0)
    assert jobs.slot(daily, EVENING, TZ) == "2026-11-02T20:00"
    assert jobs.slot(daily, EVENING + timedelta(minutes=50), TZ) == "2026-11-02T20:00"
    assert jobs.slot(daily, EVENING - timedelta(minutes=1), TZ) == "2026-11-01T20:00"
    assert jobs.slot(monday, EVENING, TZ) == "2026-11-02T09:00"
    assert jobs.slot(monday, EVENING + timedelta(days=3), TZ) == "2026-11-02T09:00"
    assert jobs.slot(monday, datetime(2026, 11, 2, 0, 59, tzinfo=UTC), TZ) == "2026-10-26T09:00"


async def test_nothing_changed_nothing_is_sent(db: Database, make_community, link, i18n) -> None:
    cid, sub_id, owners = await _setup(db, make_community, link)
    assert await jobs.deliver(db, i18n, TZ, sub_id, EVENING) == 0
    outsider = await link(cid, "2-1-101", 21)
    await agenda.propose(db, cid, outsider, "Repaint 2-1", scope="2-1", now=EVENING)  # not this room's scope
    head = await _head(db)
    assert await jobs.deliver(db, i18n, TZ, sub_id, EVENING + timedelta(days=1)) == 0
    assert await _outbox(db) == []
    sub = await _subscription(db, sub_id)
    # Entries that concerned nobody here are not read again; no digest went out.
    assert sub.last_seq == head and sub.last_sent_at is None


async def test_a_doubled_run_enqueues_once(db: Database, make_community, link, i18n) -> None:
    cid, sub_id, owners = await _setup(db, make_community, link)
    first = (await agenda.propose(db, cid, owners[0], "Benches", scope="1-1", now=T0)).proposal
    assert await jobs.deliver(db, i18n, TZ, sub_id, EVENING) == 1
    assert await jobs.deliver(db, i18n, TZ, sub_id, EVENING) == 0
    assert await jobs.deliver(db, i18n, TZ, sub_id, EVENING + timedelta(minutes=20)) == 0
    rows = await _outbox(db)
    assert len(rows) == 1
    row = rows[0]
    assert (row.chat_id, row.chat_kind, row.dedupe_key, row.status, row.priority) == (
        "-100", "group", f"digest:{sub_id}:2026-11-02T20:00", "pending", 9)
    assert f"#{first.id} Benches" in row.payload["text"] and "新议题" in row.payload["text"]
    sub = await _subscription(db, sub_id)
    assert sub.last_sent_at == EVENING and sub.last_seq == await _head(db)
    # A change after the slot was sent waits for the next slot (a repeated late run must not eat it).
    second = (await agenda.propose(db, cid, owners[1], "Lights", scope="1-1", force=True, now=EVENING)).proposal
    assert await jobs.deliver(db, i18n, TZ, sub_id, EVENING + timedelta(minutes=30)) == 0
    assert (await _subscription(db, sub_id)).last_seq < await _head(db)
    assert await jobs.deliver(db, i18n, TZ, sub_id, EVENING + timedelta(days=1)) == 1
    rows = await _outbox(db)
    assert len(rows) == 2 and f"#{second.id} Lights" in rows[1].payload["text"]
    assert f"#{first.id} Benches" not in rows[1].payload["text"]


async def test_a_long_digest_is_split_under_4096(db: Database, make_community, link, i18n) -> None:
    cid, sub_id, owners = await _setup(db, make_community, link)
    titles = [f"{n:02d} " + "Repair the drainage along the north wall " * 4 for n in range(40)]
    for title in titles:
        await agenda.propose(db, cid, owners[0], title.strip(), scope="1-1", force=True, now=T0)
    added = await jobs.deliver(db, i18n, TZ, sub_id, EVENING)
    rows = await _outbox(db)
    assert added == len(rows) >= 3
    assert all(len(r.payload["text"]) <= 4096 for r in rows)
    assert [r.dedupe_key for r in rows] == [f"digest:{sub_id}:2026-11-02T20:00#{n}" for n in range(1, added + 1)]
    text = "\n".join(r.payload["text"] for r in rows)
    assert all(title.strip() in text for title in titles)  # lines are not cut in the middle
    assert await jobs.deliver(db, i18n, TZ, sub_id, EVENING) == 0


async def test_each_recipient_reads_their_own_language(db: Database, make_community, link, i18n) -> None:
    cid, room_sub, owners = await _setup(db, make_community, link)
    english = (await digests.set_member_digest(db, owners[0], Schedule("daily", "20:00"), now=T0))[0]
    chinese = (await digests.set_member_digest(db, owners[1], Schedule("daily", "20:00"), now=T0))[0]
    async with db.uow() as uow:
        for member in (await uow.session.execute(select(Member))).scalars():
            if member.external_id == "1":
                member.locale = "en"
            if member.external_id == "2":
                member.language_code = "zh-hans"
    await agenda.propose(db, cid, owners[2], "Benches", scope="1-1", now=T0)
    for sub in (room_sub, english.subscription.id, chinese.subscription.id):
        assert await jobs.deliver(db, i18n, TZ, sub, EVENING) == 1
    room, en, zh = await _outbox(db)
    assert room.chat_kind == "group" and "议事摘要" in room.payload["text"] and "新议题" in room.payload["text"]
    assert (en.chat_id, en.chat_kind, en.member_id is not None) == ("1", "private", True)
    assert en.payload["text"].startswith("Your digest for T") and "New proposals:" in en.payload["text"]
    assert zh.chat_id == "2" and "个人摘要" in zh.payload["text"]


async def test_unreachable_members_are_skipped(db: Database, make_community, link, i18n) -> None:
    cid, _room_sub, owners = await _setup(db, make_community, link)
    mine = (await digests.set_member_digest(db, owners[0], Schedule("daily", "20:00"), now=T0))[0].subscription
    async with db.uow() as uow:
        member = (await uow.session.execute(select(Member).where(Member.external_id == "1"))).scalar_one()
        member.reachable = False
    await agenda.propose(db, cid, owners[2], "Benches", scope="1-1", now=T0)
    assert await jobs.deliver(db, i18n, TZ, mine.id, EVENING) == 0
    assert await _outbox(db) == []
    assert (await _subscription(db, mine.id)).last_seq == mine.last_seq  # kept for when they come back


async def test_the_job_runs_in_the_scheduler_context(db: Database, make_community, link, i18n) -> None:
    cid, sub_id, owners = await _setup(db, make_community, link)
    await agenda.propose(db, cid, owners[0], "Benches", scope="1-1", now=T0)
    woken: list[bool] = []
    set_context(JobContext(db, i18n, TZ, wake_outbox=lambda: woken.append(True)))
    try:
        assert await jobs.send_digest(sub_id, now=EVENING) == 1
        assert await jobs.send_digest(sub_id, now=EVENING) == 0
        await digests.clear_room_digest(db, 1, MODERATOR)
        assert await jobs.send_digest(sub_id, now=EVENING + timedelta(days=1)) == 0  # cleared since planned
    finally:
        set_context(None)
    assert woken == [True]
