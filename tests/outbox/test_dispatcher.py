"""The outbox delivering through a real runtime to the fake Bot API, with Telegram's flood limits on."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.chat.port import MessengerError, OutMessage
from bot.config import load_settings
from bot.fakeapi import FakeTelegram
from bot.fakeapi.server import FloodLimits
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.outbox import Priority, enqueue, enqueue_text
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.limits import Limits
from bot.storage import Database
from bot.storage.models import ChatRoom, Community, Member, OutboxMessage
from bot.transports import Transport, create_transport

TOKEN = "4242:outbox-token"


@dataclass
class Line:
    fake: FakeTelegram
    transport: Transport
    db: Database
    app: Yishi

    def dispatcher(self, limits: Limits | None = None, boot_id: str = "test-boot") -> Dispatcher:
        dispatcher = Dispatcher(self.db, limits or Limits(), boot_id=boot_id, poll_interval=0.2)
        dispatcher.attach(self.transport.messenger)
        return dispatcher

    async def deliver_all(self, timeout: float = 10.0) -> Dispatcher:
        """Run a dispatcher until the queue is empty; returns it for its stats."""
        dispatcher = self.dispatcher()
        await dispatcher.start()
        try:
            assert await dispatcher.drained(timeout=timeout)
        finally:
            await dispatcher.stop()
        return dispatcher

    def texts(self, chat_id: int) -> list[str]:
        return [m.text or "" for m in self.fake.messages(chat_id) if m.from_bot]


@pytest.fixture(params=["aiogram", "ptb"])
async def line(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[Line]:
    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        settings = load_settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.api_base, TRANSPORT=request.param,
                                 DATABASE_URL=db.url)
        app = Yishi(db, Translator("zh_CN"), settings.tz)
        transport = create_transport(settings, app)
        await transport.start()
        try:
            yield Line(fake, transport, db, app)
        finally:
            await transport.close()


async def _members(db: Database, users: list[int]) -> dict[int, int]:
    async with db.uow() as uow:
        return {user: (await uow.member("telegram", str(user), f"User {user}")).id or 0 for user in users}


async def _queue(db: Database, chats: list[tuple[int, str]], text: str = "digest for {chat}", parts: int = 1,
                 priority: int = Priority.BULK) -> None:
    async with db.uow() as uow:
        for chat, kind in chats:
            body = "\n".join(f"{text.format(chat=chat)} line {i} " + "x" * 3000 for i in range(parts))
            await enqueue_text(uow, platform="telegram", chat_id=str(chat), text=body, dedupe_key=f"d:{chat}",
                               chat_kind=kind, priority=priority)


async def _statuses(db: Database) -> Counter[str]:
    async with db.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)))
        return Counter({status: count for status, count in rows.all()})


# test_digest_broadcast.py sends the real digest to 1,000 members and 30 rooms; this one checks
# multi-part messages and the group limits on both runtimes.
async def test_a_broadcast_with_long_group_digests_meets_every_limit(line: Line) -> None:
    users = list(range(10_001, 10_201))
    groups = [-1_000_000 - i for i in range(10)]
    for user in users:
        line.fake.add_user(user, f"User {user}")
        line.fake.add_private_chat(user)
    for group in groups:
        line.fake.add_group(group, f"Room {group}", members=users[:3])
    line.fake.enable_flood_limits(FloodLimits())
    # Groups get a three-part digest (over 4096 characters), members one part.
    await _queue(line.db, [(g, "group") for g in groups], parts=3)
    await _queue(line.db, [(u, "private") for u in users])
    total = len(users) + len(groups) * 3  # 3 lines of ~3,020 characters make 3 parts per group
    assert (await _statuses(line.db))["pending"] == total

    dispatcher = line.dispatcher()
    await dispatcher.start()
    try:
        assert await dispatcher.drained(timeout=600)
    finally:
        await dispatcher.stop()

    assert line.fake.stats.too_many_requests == 0
    assert dispatcher.stats.sent == total and (await _statuses(line.db)) == Counter({"sent": total})
    assert all(line.texts(u) == [f"digest for {u} line 0 " + "x" * 3000] for u in users)
    for group in groups:
        assert [t.split(" line ")[1][:1] for t in line.texts(group)] == ["0", "1", "2"]  # in order, none lost
    # How close this comes to 30 messages a second is bench/broadcast.py's figure, not a test's.


async def test_a_429_pauses_only_its_chat_and_the_message_goes_later(line: Line) -> None:
    users = [201, 202, 203]
    for user in users:
        line.fake.add_user(user, f"User {user}")
        line.fake.add_private_chat(user)
    line.fake.inject_retry_after(2, count=1, chat_id=201)
    await _queue(line.db, [(u, "private") for u in users])
    dispatcher = line.dispatcher()
    await dispatcher.start()
    try:
        await line.fake.wait_for(lambda: bool(line.texts(202)) and bool(line.texts(203)), 5)
        for _ in range(100):  # the 429 answer may still be on its way back
            if dispatcher.stats.retry_after:
                break
            await asyncio.sleep(0.01)
        assert line.texts(201) == []  # paused for 2 s; the others went at once
        async with line.db.uow(readonly=True) as uow:
            row = (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.chat_id == "201"))).scalar_one()
        assert row.status == "pending" and "retry" in (row.last_error or "").lower()
        assert await dispatcher.drained(timeout=10)
    finally:
        await dispatcher.stop()
    assert [len(line.texts(u)) for u in users] == [1, 1, 1]
    assert dispatcher.stats.retry_after == 1 and dispatcher.stats.sent == 3


async def test_a_member_who_blocked_the_bot_is_marked_unreachable_and_skipped(line: Line) -> None:
    users = [301, 302, 303]
    for user in users:
        line.fake.add_user(user, f"User {user}")
        line.fake.add_private_chat(user)
    members = await _members(line.db, users)
    line.fake.block_bot(301)  # blocked, and Yishi does not know yet
    line.fake.block_bot(303)
    async with line.db.uow() as uow:  # 303's "kicked" update was handled: whatever is queued for them waits in vain
        (await uow.session.get(Member, members[303])).reachable = False  # type: ignore[union-attr]
    async with line.db.uow() as uow:
        for user in users:
            for n in range(2):
                await enqueue(uow, platform="telegram", chat_id=str(user), message=OutMessage(f"nudge {n}"),
                              dedupe_key=f"n:{user}:{n}", chat_kind="private", member_id=members[user])
    await line.deliver_all()
    assert line.texts(302) == ["nudge 0", "nudge 1"]
    async with line.db.uow(readonly=True) as uow:
        assert (await uow.session.get(Member, members[301])).reachable is False  # type: ignore[union-attr]
        assert (await uow.session.get(Member, members[302])).reachable is True  # type: ignore[union-attr]
    assert await _statuses(line.db) == Counter({"sent": 2, "skipped": 4})
    assert line.fake.stats.errors[403] == 1  # 301's first message; 303 was not even tried


async def test_a_group_upgraded_to_a_supergroup_is_rebound_and_its_queue_follows(line: Line) -> None:
    line.fake.add_user(401, "Admin")
    line.fake.add_group(-401, "Old room", members=[401], admins=[401])
    async with line.db.uow() as uow:
        community = Community(name="Migrating")
        uow.session.add(community)
        await uow.session.flush()
        uow.session.add(ChatRoom(platform="telegram", chat_id="-401", community_id=community.id or 0, scope="all"))
    line.fake.migrate_group(-401, -100401)
    async with line.db.uow() as uow:
        for n in range(3):
            await enqueue(uow, platform="telegram", chat_id="-401", message=OutMessage(f"notice {n}"),
                          dedupe_key=f"m:{n}")
    dispatcher = await line.deliver_all()
    assert line.texts(-100401) == ["notice 0", "notice 1", "notice 2"]
    async with line.db.uow(readonly=True) as uow:
        room = (await uow.session.execute(select(ChatRoom))).scalar_one()
        assert room.chat_id == "-100401"
    assert dispatcher.stats.migrated == 1


async def test_a_reply_waits_out_a_pause_and_a_blocked_chat_raises(line: Line) -> None:
    line.fake.add_user(501, "User")
    line.fake.add_private_chat(501)
    line.fake.add_user(502, "Blocker")
    line.fake.add_private_chat(502)
    line.fake.block_bot(502)
    dispatcher = line.dispatcher()
    await dispatcher.start()
    try:
        line.fake.inject_retry_after(1, count=1, chat_id=501)
        sent = await asyncio.wait_for(dispatcher.send("telegram", "501", OutMessage("hello")), 10)
        assert sent.message_id and line.texts(501) == ["hello"]
        with pytest.raises(MessengerError) as refused:
            await dispatcher.send("telegram", "502", OutMessage("hello"))
        assert refused.value.blocked
    finally:
        await dispatcher.stop()
    assert await _statuses(line.db) == Counter({"sent": 1, "skipped": 1})


async def test_two_dispatchers_never_send_the_same_message(line: Line) -> None:
    users = list(range(601, 641))
    for user in users:
        line.fake.add_user(user, f"User {user}")
        line.fake.add_private_chat(user)
    await _queue(line.db, [(u, "private") for u in users])
    first, second = line.dispatcher(boot_id="one"), line.dispatcher(boot_id="two")
    await asyncio.gather(first.start(), second.start())
    try:
        assert await first.drained(timeout=20) and await second.drained(timeout=20)
    finally:
        await asyncio.gather(first.stop(), second.stop())
    assert [len(line.texts(u)) for u in users] == [1] * len(users)
    assert first.stats.sent + second.stats.sent == len(users)


async def test_a_restart_resumes_without_resending_what_was_sent(line: Line) -> None:
    users = list(range(701, 761))
    for user in users:
        line.fake.add_user(user, f"User {user}")
        line.fake.add_private_chat(user)
    await _queue(line.db, [(u, "private") for u in users])
    first = line.dispatcher(Limits(global_per_second=20), boot_id="before")
    await first.start()
    for _ in range(500):
        if first.stats.sent >= 20:
            break
        await asyncio.sleep(0.01)
    # The process dies: its tasks vanish mid-send, leaving claims behind (no orderly stop).
    assert first._loop is not None
    first._loop.cancel()
    for task in list(first._active.values()):
        task.cancel()
    await asyncio.gather(first._loop, *first._active.values(), return_exceptions=True)
    if first._liveness is not None:  # PostgreSQL: its session ends with the process
        await first._liveness.dispose()
    before = await _statuses(line.db)
    assert before["sent"] >= 20 and before["sent"] + before["pending"] + before["sending"] == len(users)
    sent_before = {u for u in users if line.texts(u)}

    # The claims are taken over at once: on PostgreSQL because the first process's liveness lock is free.
    second = line.dispatcher(boot_id="after")
    await second.start()
    try:
        assert await second.drained(timeout=20)
    finally:
        await second.stop()
    assert await _statuses(line.db) == Counter({"sent": len(users)})
    counts = {u: len(line.texts(u)) for u in users}
    assert all(count >= 1 for count in counts.values())  # at least once
    doubled = {u for u, count in counts.items() if count > 1}
    # Only a message in flight at the crash can go twice; nothing marked sent went again.
    assert len(doubled) <= before["sending"]
    assert second.stats.sent == len(users) - before["sent"]
    assert sent_before >= doubled
