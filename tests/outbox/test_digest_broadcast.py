"""The issue's broadcast: the digest job for 1,000 members and 30 rooms, delivered under Telegram's limits.

A census of 1,000 homes, every owner registered with their invite code and subscribed to a daily
private digest, 30 rooms with a room digest; a matter is proposed, accepted and put to the vote.
The digest job then queues each subscription's digest and the outbox delivers all of them through
the aiogram runtime to the fake Bot API, which enforces the flood limits: no 429, nobody missed,
each member in their own language. How close the delivery comes to the theoretical 1,030 / 30 s is a
speed figure: bench/broadcast.py measures it (a timed assertion here would fail on a busy machine).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from bot.config import load_settings
from bot.deliberation.scope import Scope
from bot.fakeapi import FakeTelegram
from bot.fakeapi.server import FloodLimits
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.limits import Limits
from bot.scheduler.digests import deliver
from bot.services import agenda, digests, voting
from bot.services.census import import_census, issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.rooms import bind_room
from bot.storage import Database
from bot.storage.models import Community, DigestSubscription, Member, OutboxMessage
from bot.transports import create_transport

TOKEN = "5150:digest-token"
MODERATOR = Actor("telegram", "1", "Moderator")
COMMUNITY = "Big Estate"


def _census() -> str:
    """10 buildings x 5 units x 10 floors x 2 homes = 1,000 homes, one owner each."""
    rows = ["building,unit,floor,room,area_m2,area_source,owner_id,owner_kind"]
    for building in range(1, 11):
        for unit in range(1, 6):
            for floor in range(1, 11):
                for door in (1, 2):
                    owner = f"B{building}U{unit}F{floor}D{door}"
                    rows.append(f"{building},{unit},{floor},{floor}0{door},{60 + door}.50,registry,{owner},person")
    return "\n".join(rows) + "\n"


def _rooms() -> dict[str, str]:
    """30 rooms: the whole estate, its 10 buildings and 19 of its building units."""
    scopes = ["all", *(str(b) for b in range(1, 11)), *(f"{b}-{u}" for b in range(1, 5) for u in range(1, 6))][:30]
    return {str(-3_000_000 - i): scope for i, scope in enumerate(scopes)}


async def test_the_digest_job_reaches_1000_members_and_30_rooms_without_a_429(db: Database) -> None:
    await import_census(db, COMMUNITY, _census())
    await add_council_member(db, COMMUNITY, MODERATOR.platform, MODERATOR.external_id)
    codes = await issue_codes(db, COMMUNITY)
    assert len(codes) == 1000
    users = [str(10_000 + i) for i in range(len(codes))]
    for user, code in zip(users, codes, strict=True):
        await redeem_code(db, "telegram", user, code.code, f"Owner {user}")
    async with db.uow() as uow:
        community = (await uow.session.execute(select(Community))).scalar_one()
        community.support_fixed = 1  # the proposer's own support puts the matter up for review
        community_id = community.id
        # Every tenth member reads English; the rest get the default, Chinese.
        for member in (await uow.session.execute(select(Member))).scalars():
            if member.external_id in users and int(member.external_id) % 10 == 0:
                member.locale = "en"
    for user in users:
        await digests.set_member_digest(db, Actor("telegram", user), digests.Schedule("daily", "20:00"))
    rooms = _rooms()
    for chat_id, scope in rooms.items():
        room = await bind_room(db, "telegram", chat_id, f"Room {scope}", community_id, Scope.parse(scope), MODERATOR)
        await digests.set_room_digest(db, room.room_id, MODERATOR, digests.Schedule("daily", "20:00"))

    # What the digest reports: a matter raised, put on the agenda and put to the vote.
    proposal = (await agenda.propose(db, community_id, Actor("telegram", users[0]), "Repaint the fences",
                                     force=True)).proposal
    assert proposal is not None and proposal.id is not None
    await agenda.accept(db, proposal.id, MODERATOR)
    await voting.open_vote(db, proposal.id, MODERATOR, "residents_meeting", 7)

    translator = Translator("zh_CN")
    tz = load_settings().tz
    async with db.uow(readonly=True) as uow:
        subscriptions = (await uow.session.execute(select(DigestSubscription.id))).scalars().all()
    assert len(subscriptions) == 1030
    for subscription_id in subscriptions:  # the scheduled job, once per subscription
        assert await deliver(db, translator, tz, subscription_id) == 1
    for subscription_id in subscriptions[:50]:  # a doubled run adds nothing
        assert await deliver(db, translator, tz, subscription_id) == 0
    async with db.uow(readonly=True) as uow:
        queued = (await uow.session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    assert queued == 1030

    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        for user in users:
            fake.add_user(int(user), f"Owner {user}")
            fake.add_private_chat(int(user))
        for chat_id, scope in rooms.items():
            fake.add_group(int(chat_id), f"Room {scope}", members=[int(users[0])])
        fake.enable_flood_limits(FloodLimits())
        settings = load_settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.api_base, TRANSPORT="aiogram",
                                 DATABASE_URL=db.url)
        transport = create_transport(settings, Yishi(db, translator, tz))
        await transport.start()
        dispatcher = Dispatcher(db, Limits(), boot_id="digest", poll_interval=0.2)
        dispatcher.attach(transport.messenger)
        await dispatcher.start()
        try:
            assert await dispatcher.drained(timeout=600)
        finally:
            await dispatcher.stop()
            await transport.close()

        assert fake.stats.too_many_requests == 0
        texts = {user: [m.text or "" for m in fake.messages(int(user)) if m.from_bot] for user in users}
        assert all(len(got) == 1 and "Repaint the fences" in got[0] for got in texts.values())
        english = {user for user in users if int(user) % 10 == 0}
        for user in users:
            heading = "Your digest for Big Estate" if user in english else "Big Estate 个人摘要"
            assert texts[user][0].startswith(heading), texts[user][0][:80]
        for chat_id in rooms:
            got = [m.text or "" for m in fake.messages(int(chat_id)) if m.from_bot]
            assert len(got) == 1 and "Repaint the fences" in got[0]
    async with db.uow(readonly=True) as uow:
        statuses = Counter(dict((await uow.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all()))
    assert statuses == Counter({"sent": 1030})
