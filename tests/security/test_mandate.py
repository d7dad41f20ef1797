"""Nobody moderates beyond the council's mandate: attacks on a real runtime (aiogram and PTB) over the fake Bot API.

A group creator who is not on the council, whose room a council member bound to unit 3-1, and a plain
admin of the 3-2 room try every community power; council members try to act on their own home and
registration; and the chat-level holes: commands for another bot, forged presses, bad deep links,
guessing invite codes.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.deliberation.errors import NeedsConfirmation, NotEligible, Throttled
from bot.deliberation.mandate import POWERS, Mandate, Power, room_admin_powers
from bot.deliberation.scope import Scope
from bot.fakeapi.server import StoredMessage
from bot.i18n import Translator
from bot.services import agenda, digests, elevator, implementation, meetings, registration, throttle, voting
from bot.services.census import import_census, redeem_code
from bot.services.council import add_council_member
from bot.services.digests import Schedule
from bot.services.directory import Actor, home_by_label
from bot.services.rooms import bind_room
from bot.storage import Database
from bot.storage.models import (
    AttemptCounter,
    Ballot,
    ChatRoom,
    Community,
    DigestSubscription,
    InboxUpdate,
    Meeting,
    MemberLink,
    Objection,
    OutboxMessage,
    Proposal,
    Vote,
    utcnow,
)
from tests.e2e.conftest import GROUP, MODERATOR, OUTSIDER, OWNERS, World

ATTACKER = 7000  # creator of the 3-1 room, on no council
ADMIN32 = 7100  # a plain admin of the 3-2 room, on no council
COUNCIL2 = 9100  # a council member who owns 3-2-101
STRANGER = 7200  # registered nowhere
OTHER_COUNCIL = 9200  # council member of another community
ROOM31 = -1003101
MOD = Actor("telegram", str(MODERATOR), "Moderator Li")

REFUSED = "Only moderators of the residents' council can do that."


def actor(user: int) -> Actor:
    return Actor("telegram", str(user))


async def _community_id(db: Database) -> int:
    async with db.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(Community.id).where(Community.name == "幸福里"))).scalar_one())


async def _stage(w: World) -> dict[str, Any]:
    """Rooms bound by the council, owners registered, an elevator vote open with a ballot, two matters in review."""
    fake, db = w.fake, w.db
    for user, name in ((ATTACKER, "Creator Wu"), (ADMIN32, "Admin Zheng"), (COUNCIL2, "Council Sun"),
                       (STRANGER, "Stranger Feng"), (OTHER_COUNCIL, "Other council Ma")):
        fake.add_user(user, name, language_code="en")
        fake.add_private_chat(user)
    fake.add_group(ROOM31, "3-1 room", members=[MODERATOR, OUTSIDER], creator=ATTACKER)
    group = fake.chat(GROUP)
    for user in (ATTACKER, COUNCIL2, STRANGER, OTHER_COUNCIL):
        group.members[user] = "member"
    group.members[ADMIN32] = "administrator"
    cid = await _community_id(db)
    async with db.uow() as uow:
        (await uow.get(Community, cid, what="community")).support_fixed = 1
    await add_council_member(db, "幸福里", "telegram", str(COUNCIL2))
    await bind_room(db, "telegram", str(GROUP), "3-2 room", cid, Scope.parse("3-2"), MOD)
    await bind_room(db, "telegram", str(ROOM31), "3-1 room", cid, Scope.parse("3-1"), MOD)
    for user, home in ((OWNERS["101"], "3-2-101"), (COUNCIL2, "3-2-102"), (OUTSIDER, "3-1-101"),
                       (OWNERS["601"], "3-2-601")):
        await redeem_code(db, "telegram", str(user), w.codes[home])
    # COUNCIL2 is also linked to 3-2-101 (a co-owner of the home whose ballot he must not touch).
    async with db.uow() as uow:
        member = await uow.member("telegram", str(COUNCIL2))
        home = await home_by_label(uow, cid, "3-2-101")
        uow.session.add(MemberLink(member_id=member.id, exclusive_unit_id=home.id, role="owner", status="verified",
                                   via="request", created_at=utcnow()))
    owner101 = actor(OWNERS["101"])
    elevator_matter = (
        await agenda.propose(db, cid, owner101, "3-2 加装电梯", scope="3-2", category="elevator")).proposal
    assert elevator_matter is not None and elevator_matter.id == 1
    await agenda.accept(db, 1, MOD)
    ballot = await w.say(MODERATOR, GROUP, "/vote 1 elevator 7d")
    assert "0/12" in ballot.text
    assert "Recorded" in await w.press(OWNERS["101"], GROUP, ballot, "v1:b:1:y")
    await elevator.record_objection(db, 1, MOD, "3-2-301", "light", "shade on the 3rd floor")
    for title in ("Repaint the stairwell", "Fix the door lock"):
        made = (await agenda.propose(db, cid, owner101, title, scope="3-2", force=True)).proposal
        assert made is not None and made.state == "review"
    # The press's turnout edit is out before a test counts edits (the press is answered before it touches
    # the ballot, so wait for the edit itself, then for nothing else to be in hand).
    await w.fake.wait_for_message(GROUP, lambda m: m.message_id == ballot.message_id and "1/12" in (m.text or ""),
                                  10.0)
    await w.settle()
    async with db.uow(readonly=True) as uow:
        rooms = {int(r.chat_id): r.id for r in (await uow.session.execute(select(ChatRoom))).scalars()}
    return {"cid": cid, "ballot": ballot, "rooms": rooms}


async def _request(w: World, user: int, home: str, role: int = 0) -> StoredMessage:
    """``user`` asks by room for ``home`` (0: as owner, 1: as resident) and gets the confirmation."""
    question = await w.say(user, user, f"/register {home}")
    assert "Request sent" in await w.press(user, user, question, question.callback_data[role])
    await w.fake.wait_for_message(user, lambda m: m.from_bot and "waits for a moderator" in (m.text or ""), 10.0,
                                  after=question.message_id)
    return question


async def _snapshot(db: Database) -> tuple[Any, ...]:
    """Everything a moderator power could change (the ledger too)."""
    async with db.uow(readonly=True) as uow:
        async def rows(query: Any) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in (await uow.session.execute(query)).all()]

        return (
            await rows(select(Proposal.id, Proposal.state, Proposal.reason, Proposal.merged_into_id)
                       .order_by(Proposal.id)),
            await rows(select(Vote.id, Vote.status, Vote.closed_at).order_by(Vote.id)),
            await rows(select(Ballot.elector_key, Ballot.choice, Ballot.source).order_by(Ballot.elector_key)),
            await rows(select(Objection.id, Objection.status).order_by(Objection.id)),
            await rows(select(Meeting.id, Meeting.status)),
            await rows(select(ChatRoom.chat_id, ChatRoom.community_id, ChatRoom.scope).order_by(ChatRoom.id)),
            await rows(select(MemberLink.member_id, MemberLink.exclusive_unit_id, MemberLink.status)
                       .order_by(MemberLink.id)),
            await rows(select(DigestSubscription.room_id, DigestSubscription.cadence)),
            await uow.ledger.count(),
        )


ATTACKS = [
    ("/accept 2", REFUSED),
    ("/decline 2 我说了算", REFUSED),
    ("/merge 2 3", REFUSED),
    ("/vote 2 simple 3d", REFUSED),
    ("/close 1", REFUSED),
    ("/paper 1 3-2-101 no 我说了算", REFUSED),
    ("/paper 1 3-2-601 yes proxy 我说了算", REFUSED),
    ("/objection 1 3-2-401 noise loud", REFUSED),
    ("/objection 1", REFUSED),
    ("/objection status 1 resolved", REFUSED),
    ("/progress 1 done", REFUSED),
    ("/meeting 2027-01-20 19:30", REFUSED),
    ("/meeting cancel", REFUSED),
    ("/bind all", REFUSED),
    ("/bind 3-2", REFUSED),
    ("/pending", "private chat"),
]


async def test_a_room_admin_off_the_council_moderates_nothing(world: World) -> None:
    w = world
    staged = await _stage(w)
    before = await _snapshot(w.db)
    # The creator of the 3-1 room, in his room and in the 3-2 room; the plain admin of 3-2, in his room.
    for user, chat in ((ATTACKER, ROOM31), (ATTACKER, GROUP), (ADMIN32, GROUP)):
        for command, refusal in ATTACKS:
            reply = await w.personal(user, chat, command)  # a refusal is personal: answered in private
            assert refusal in reply.text, (user, chat, command, reply.text)
    for command in ("/pending", "/close 1", "/accept 2", "/paper 1 3-2-101 no 我说了算"):
        reply = await w.say(ATTACKER, ATTACKER, command)
        assert REFUSED in reply.text, (command, reply.text)
    # /pending in a group is a pointer, with no name next to a home.
    pointer = await w.personal(MODERATOR, GROUP, "/pending", match=lambda t: "/pending" in t)
    assert pointer.text == "Please use /pending in a private chat with me."
    assert await _snapshot(w.db) == before

    # Registered by room for someone else's home, he still cannot approve himself.
    question = await _request(w, ATTACKER, "3-2-601")
    async with w.db.uow(readonly=True) as uow:
        link_id = (await uow.session.execute(select(MemberLink.id).where(MemberLink.status == "pending"))).scalar_one()
    query = w.fake.press_button(ATTACKER, ATTACKER, question.message_id, f"v1:ap:{link_id}:c", forged=True)
    assert "no longer valid" in ((await w.fake.wait_for_callback_answer(query, 10.0)).text or "")
    his_room = Actor("telegram", str(ATTACKER), room_admin_of=staged["rooms"][ROOM31])
    with pytest.raises(NotEligible):
        await registration.decide_link(w.db, link_id, his_room, True, confirm=True)
    # Nor vote for 3-2-601: the real owner is the only one on the roll for it.
    assert "not on this vote's roll" in await w.press(ATTACKER, GROUP, staged["ballot"], "v1:b:1:n")

    # What a room's admins keep: their own room's digest, and only there.
    assert "20:00" in (await w.say(ATTACKER, ROOM31, "/digest daily 20:00")).text  # posted for the room
    refused = await w.personal(ATTACKER, GROUP, "/digest daily 20:00")
    assert "Only council members and this room's admins" in refused.text
    async with w.db.uow(readonly=True) as uow:
        subscriptions = (await uow.session.execute(select(DigestSubscription.room_id))).scalars().all()
        assert subscriptions == [staged["rooms"][ROOM31]]
        statuses = (await uow.session.execute(select(MemberLink.status).where(MemberLink.id == link_id))).scalar_one()
        assert statuses == "pending"


async def test_council_members_do_not_act_on_their_own_home_or_registration(world: World) -> None:
    w = world
    await _stage(w)
    before = await _snapshot(w.db)
    own = "You are linked to that home: another council member must do this."
    for command in ("/paper 1 3-2-101 no 我说了算", "/paper 1 3-2-102 yes signed paper no. 1",
                    "/objection 1 3-2-101 light too dark"):
        reply = await w.personal(COUNCIL2, GROUP, command, match=lambda t: "linked" in t)
        assert reply.text == own, (command, reply.text)
    assert await _snapshot(w.db) == before

    # A council member asks for another home: listed for him without buttons, refused to him by the service.
    await _request(w, COUNCIL2, "3-2-202")
    async with w.db.uow(readonly=True) as uow:
        link_id = (await uow.session.execute(select(MemberLink.id).where(MemberLink.status == "pending"))).scalar_one()
    listing = await w.say(COUNCIL2, COUNCIL2, "/pending")
    assert "3-2-202" in listing.text and "another council member decides" in listing.text
    assert listing.callback_data == []
    with pytest.raises(NotEligible) as refused:
        await registration.decide_link(w.db, link_id, actor(COUNCIL2), True)
    assert refused.value.params["reason"] == "own_registration"
    # Someone asks for 3-2-101, which COUNCIL2 co-owns: he cannot decide it either.
    await _request(w, STRANGER, "3-2-101", 1)  # as resident
    async with w.db.uow(readonly=True) as uow:
        stranger_link = (await uow.session.execute(
            select(MemberLink.id).where(MemberLink.status == "pending")
            .order_by(MemberLink.id.desc()))).scalars().first()
    with pytest.raises(NotEligible) as refused:
        await registration.decide_link(w.db, stranger_link, actor(COUNCIL2), False)
    assert refused.value.params["reason"] == "own_home"
    # The other council member decides both.
    listing = await w.say(MODERATOR, MODERATOR, "/pending")
    assert "3-2-202" in listing.text
    assert "approved" in await w.press(MODERATOR, MODERATOR, listing, f"v1:ap:{link_id}:a")


async def test_a_request_for_an_owned_home_is_flagged_confirmed_and_told(world: World) -> None:
    w = world
    await _stage(w)
    await _request(w, ATTACKER, "3-2-601")
    async with w.db.uow(readonly=True) as uow:
        link_id = (await uow.session.execute(select(MemberLink.id).where(MemberLink.status == "pending"))).scalar_one()
    # The verified owner is told privately; the council members get a notice with the flag and the buttons.
    told = await w.fake.wait_for_message(OWNERS["601"], lambda m: m.from_bot and "Creator Wu" in (m.text or ""), 10)
    assert "3-2-601" in told.text and "已核验的业主" in told.text  # owner 601 reads Chinese: "the verified owner"
    flag = "This home already has a verified owner"
    # Each in their language: COUNCIL2 never wrote to the bot, so he reads the default, Chinese.
    for moderator, flagged in ((MODERATOR, flag), (COUNCIL2, "该户已有已核验业主")):
        notice = await w.fake.wait_for_message(moderator, lambda m: m.from_bot and "3-2-601" in (m.text or ""), 10)
        assert flagged in notice.text and "Creator Wu" in notice.text
        # The matters waiting for review follow in the same notice, with their own buttons.
        assert [d for d in notice.callback_data if d.startswith("v1:ap:")] == [
            f"v1:ap:{link_id}:a", f"v1:ap:{link_id}:d"]
    assert not [m for m in w.fake.messages(ATTACKER) if m.from_bot and "wait for the council" in (m.text or "")]

    listing = await w.say(MODERATOR, MODERATOR, "/pending")
    assert flag in listing.text
    toast = await w.press(MODERATOR, MODERATOR, listing, f"v1:ap:{link_id}:a")
    assert "Please confirm" in toast
    with pytest.raises(NeedsConfirmation):
        await registration.decide_link(w.db, link_id, MOD, True)
    confirm = await w.fake.wait_for_message(
        MODERATOR, lambda m: m.message_id == listing.message_id and "anyway" in (m.text or ""), 10)
    assert confirm.callback_data == [f"v1:ap:{link_id}:c", f"v1:ap:{link_id}:d"]
    async with w.db.uow(readonly=True) as uow:
        assert (await uow.session.get(MemberLink, link_id)).status == "pending"
    assert "approved" in await w.press(MODERATOR, MODERATOR, confirm, f"v1:ap:{link_id}:c")
    async with w.db.uow(readonly=True) as uow:
        assert (await uow.session.get(MemberLink, link_id)).status == "verified"
        assert await uow.ledger.count("link_decided") == 1


async def test_council_notices_are_bundled_ten_minutes_apart(world: World) -> None:
    w = world
    await _stage(w)
    for user, home in ((ATTACKER, "3-2-201"), (STRANGER, "3-2-202"), (ADMIN32, "3-2-301")):
        await _request(w, user, home)
        if home == "3-2-201":  # the first notice goes out at once
            await w.fake.wait_for_message(MODERATOR, lambda m: m.from_bot and "3-2-201" in (m.text or ""), 10)
    notices = [m for m in w.fake.messages(MODERATOR) if m.from_bot and "wait for the council" in (m.text or "")]
    assert len(notices) == 1 and "3-2-202" not in notices[0].text
    async with w.db.uow(readonly=True) as uow:
        rows = (await uow.session.execute(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("reg-waiting:"),
                                        OutboxMessage.chat_id == str(MODERATOR)).order_by(OutboxMessage.id)
        )).scalars().all()
    assert [r.status for r in rows] == ["sent", "pending"]
    assert rows[0].sent_at is not None and rows[1].not_before == rows[0].sent_at + timedelta(minutes=10)
    text = rows[1].payload["text"]
    assert "3-2-202" in text and "3-2-301" in text  # one bundle for both
    # Ten minutes later (the row is due), the bundle goes out as one message.
    async with w.db.uow() as uow:
        await uow.session.execute(update(OutboxMessage).where(OutboxMessage.id == rows[1].id)
                                  .values(not_before=utcnow()))
    second = await w.fake.wait_for_message(MODERATOR, lambda m: m.from_bot and "3-2-301" in (m.text or ""), 10)
    # Everything still waiting, the first request too (undecided), with its buttons.
    assert second.text.count("Request #") == 3 and len([d for d in second.callback_data if ":ap:" in d]) == 6
    assert len([m for m in w.fake.messages(MODERATOR) if m.from_bot and "wait for the council" in (m.text or "")]) == 2


async def test_show_results_and_objections_stay_in_the_community(world: World) -> None:
    w = world
    await _stage(w)
    await import_census(w.db, "Other Court", "building,unit,floor,room,area_m2,area_source,owner_id,owner_kind\n"
                        "1,1,1,101,50.00,registry,X1,person\n")
    await add_council_member(w.db, "Other Court", "telegram", str(OTHER_COUNCIL))
    for user in (STRANGER, OTHER_COUNCIL):
        for command in ("/show 1", "/results 1"):
            reply = await w.say(user, user, command)
            assert "Only registered residents of that community" in reply.text, (user, command, reply.text)
            assert "电梯" not in reply.text
    reply = await w.say(STRANGER, STRANGER, "/start vote_1")
    assert "Only registered residents" in reply.text
    assert REFUSED in (await w.say(OTHER_COUNCIL, OTHER_COUNCIL, "/objection 1")).text
    with pytest.raises(NotEligible):
        await elevator.objections(w.db, 1, actor(OTHER_COUNCIL))
    # A group bound to nothing (or to another community) gets nothing either.
    w.fake.add_group(-1009999, "Elsewhere", members=[STRANGER])
    assert "another community" in (await w.personal(STRANGER, -1009999, "/show 1")).text
    # Its own people do: an owner of 3-1 in private, the 3-1 room, the council.
    assert "电梯" in (await w.say(OUTSIDER, OUTSIDER, "/show 1")).text
    assert "电梯" in (await w.personal(OUTSIDER, ROOM31, "/results 1")).text
    assert "Objections to #1" in (await w.say(MODERATOR, MODERATOR, "/objection 1")).text


async def _finished_count(db: Database) -> int:
    async with db.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(InboxUpdate).where(
            InboxUpdate.handled_at.is_not(None)))).scalar_one())  # type: ignore[union-attr]


async def test_a_command_for_another_bot_is_ignored(world: World) -> None:
    w = world
    await _stage(w)
    finished_before = await _finished_count(w.db)
    sent_before = len(w.fake.messages(GROUP))
    w.fake.send_text(MODERATOR, GROUP, "/close@some_other_bot 1")
    # The update is handled (claimed and finished) and nothing happens.
    async with asyncio.timeout(10):
        while await _finished_count(w.db) <= finished_before:
            await asyncio.sleep(0.05)
    status = await w.personal(MODERATOR, GROUP, "/results 1", match=lambda t: "加装电梯" in t)
    assert "3-2 加装电梯" in status.text
    assert len([m for m in w.fake.messages(GROUP)[sent_before:] if m.from_bot]) == 0  # /results is personal
    async with w.db.uow(readonly=True) as uow:
        assert (await uow.session.get(Vote, 1)).status == "open"
    closed = await w.say(MODERATOR, GROUP, "/close@yishi_bot 1")
    assert "#1" in closed.text
    async with w.db.uow(readonly=True) as uow:
        assert (await uow.session.get(Vote, 1)).status == "closed"


async def test_forged_presses_are_refused(world: World) -> None:
    w = world
    staged = await _stage(w)
    ballot: StoredMessage = staged["ballot"]
    listing = await w.say(OWNERS["101"], GROUP, "/proposals")
    edits = w.fake.message(GROUP, ballot.message_id).edit_count
    before = await _snapshot(w.db)
    for message, data in ((ballot, "v1:pg:0"), (ballot, "v1:s:2"), (ballot, "v1:ap:1:a"), (listing, "v1:b:1:n")):
        query = w.fake.press_button(OWNERS["201"], GROUP, message.message_id, data, forged=True)
        answer = await w.fake.wait_for_callback_answer(query, 10.0)
        assert "no longer valid" in (answer.text or ""), (data, answer.text)
    assert await _snapshot(w.db) == before
    shown = w.fake.message(GROUP, ballot.message_id)
    assert shown.edit_count == edits and "v1:b:1:y" in shown.callback_data  # still the ballot
    # The real buttons still work.
    assert "Recorded" in await w.press(OWNERS["601"], GROUP, ballot, "v1:b:1:n")


async def test_bad_deep_links_are_refused(world: World) -> None:
    w = world
    for payload in ("vote_99999999999999999999", "vote_-1", "vote_\uff11\uff12", "vote_", "nonsense"):
        reply = await w.say(OWNERS["101"], OWNERS["101"], f"/start {payload}")
        assert reply.text == "This link is not valid.", (payload, reply.text)
    chinese = await w.say(OWNERS["602"], OWNERS["602"], "/start vote_99999999999999999999")
    assert "链接无效" in chinese.text


async def test_guessing_invite_codes_is_throttled(world: World) -> None:
    w = world
    right = w.codes["3-2-501"]
    letters = "ABCDEFGHJK"
    for i in range(20):  # a burst: 20 wrong (well-formed) codes sent at once
        w.fake.send_text(OWNERS["501"], OWNERS["501"], f"/register ZZZZ-ZZ{letters[i // 10]}{letters[i % 10]}")
    await w.fake.wait_for(lambda: len([m for m in w.fake.messages(OWNERS["501"]) if m.from_bot]) >= 20, 20)
    answers = [m.text for m in w.fake.messages(OWNERS["501"]) if m.from_bot]
    unknown = [a for a in answers if "unknown" in a]
    throttled = [a for a in answers if "Too many attempts" in a]
    assert (len(unknown), len(throttled)) == (5, 15)
    assert "try again in 15 minutes" in throttled[0]
    reply = await w.say(OWNERS["501"], OWNERS["501"], f"/register {right}")  # even the right code waits
    assert "Too many attempts" in reply.text
    async with w.db.uow() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(MemberLink))).scalar_one() == 0
        # The window is over (the persisted counter started 15 minutes ago): the right code works.
        await uow.session.execute(update(AttemptCounter).values(window_started_at=utcnow() - timedelta(minutes=15)))
    assert "owner of 3-2-501" in (await w.say(OWNERS["501"], OWNERS["501"], f"/register {right}")).text


# --- the services check again (no chat involved) ----------------------------------------------------------


async def test_every_service_refuses_a_room_admin(db: Database, community: str) -> None:
    from bot.handlers.announcements import close_and_announce

    cid = await _community_id(db)
    async with db.uow() as uow:
        (await uow.get(Community, cid, what="community")).support_fixed = 1
    await add_council_member(db, community, "telegram", str(MODERATOR))
    room = (await bind_room(db, "telegram", "-1", "3-1", cid, Scope.parse("3-1"), MOD)).room_id
    other_room = (await bind_room(db, "telegram", "-2", "3-2", cid, Scope.parse("3-2"), MOD)).room_id
    owner = actor(1)
    async with db.uow() as uow:
        member = await uow.member("telegram", "1")
        home = await home_by_label(uow, cid, "3-2-101")
        uow.session.add(MemberLink(member_id=member.id, exclusive_unit_id=home.id, role="owner", status="verified",
                                   via="code", created_at=utcnow()))
    p1 = (await agenda.propose(db, cid, owner, "电梯", scope="3-2", category="elevator")).proposal
    p2 = (await agenda.propose(db, cid, owner, "Paint", scope="3-2", force=True)).proposal
    assert p1 is not None and p2 is not None and p1.id is not None and p2.id is not None
    await agenda.accept(db, p1.id, MOD)
    vote = await voting.open_vote(db, p1.id, MOD, "elevator", 7)
    assert vote.id is not None
    objection = await elevator.record_objection(db, p1.id, MOD, "3-2-301", "light")
    requested = await registration.request_link(db, actor(2), home.id, "resident")
    admin = Actor("telegram", "7000", room_admin_of=room)
    notices = meetings.Notices(Translator("zh_CN"), ZoneInfo("Asia/Shanghai"))
    attempts = [
        agenda.accept(db, p2.id, admin), agenda.decline(db, p2.id, admin, "no"), agenda.merge(db, p2.id, p1.id, admin),
        voting.open_vote(db, p2.id, admin, "simple", 3), voting.close_vote(db, vote.id, admin),
        close_and_announce(db, notices.i18n, notices.tz, vote.id, admin),
        voting.paper_ballot(db, vote.id, admin, "3-2-101", "no", "我说了算"),
        registration.decide_link(db, requested.link_id, admin, True),
        registration.pending_links(db, cid, viewer=admin),
        elevator.record_objection(db, p1.id, admin, "3-2-401", "noise"),
        elevator.update_objection(db, objection.id or 0, admin, "resolved"),
        elevator.objections(db, p1.id, admin),
        meetings.schedule(db, cid, admin, utcnow() + timedelta(days=3), notices),
        meetings.cancel(db, cid, admin, notices),
        implementation.record_progress(db, p1.id, admin, "done", done=True),
        bind_room(db, "telegram", "-1", "3-1", cid, Scope.parse("all"), admin),
        digests.set_room_digest(db, other_room, admin, Schedule("daily", "20:00", None)),
    ]
    for attempt in attempts:
        with pytest.raises(NotEligible):
            await attempt
    # The one power a room's admins have, for their own room.
    assert room_admin_powers() == (Power.ROOM_DIGEST,)
    assert all(POWERS[p] == {Mandate.COUNCIL} for p in Power if p is not Power.ROOM_DIGEST)
    await digests.set_room_digest(db, room, admin, Schedule("daily", "20:00", None))
    # A council member of another community cannot re-bind this community's room either.
    await import_census(db, "Other Court", "building,unit,floor,room,area_m2,area_source,owner_id,owner_kind\n"
                        "1,1,1,101,50.00,registry,X1,person\n")
    await add_council_member(db, "Other Court", "telegram", "9200")
    async with db.uow(readonly=True) as uow:
        other = (await uow.session.execute(select(Community.id).where(Community.name == "Other Court"))).scalar_one()
    with pytest.raises(NotEligible):
        await bind_room(db, "telegram", "-1", "x", other, Scope.parse("all"), actor(9200))


async def test_request_limits_per_account_and_per_home(db: Database, community: str) -> None:
    cid = await _community_id(db)
    async with db.uow() as uow:
        homes = [await home_by_label(uow, cid, f"3-2-{r}") for r in ("101", "102", "201", "202", "301", "302")]
    for home in homes[:5]:
        await registration.request_link(db, actor(1), home.id, "resident")
    with pytest.raises(Throttled):
        await registration.request_link(db, actor(1), homes[5].id, "resident")
    for user in (2, 3, 4):
        await registration.request_link(db, actor(user), homes[5].id, "resident")
    with pytest.raises(Throttled):  # a fourth account on one home the same day: that home is being flooded
        await registration.request_link(db, actor(5), homes[5].id, "resident")
    later = utcnow() + timedelta(days=1, seconds=1)
    await throttle.take(db, throttle.REQUEST_PER_HOME, str(homes[5].id), later)  # a new window the next day
