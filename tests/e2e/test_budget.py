"""A busy group's budget, a room's language and the council's notices, on both runtimes.

In a group the bot posts only what the whole room needs; an answer that concerns one person goes to
them (privately, or as a toast), and the room gets a one-line pointer only for someone who never
started a private chat with the bot, at most once a day (see Context.reply).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.fakeapi.server import StoredMessage
from bot.storage.models import ChatRoom, Community, Member, OutboxMessage, Proposal, utcnow
from tests.e2e.conftest import GROUP, MODERATOR, OWNERS, World

NEWCOMER = 7100  # in the group, never started a private chat with the bot


def bot_messages(w: World, chat: int, after: int = 0) -> list[StoredMessage]:
    return [m for m in w.fake.messages(chat) if m.from_bot and m.message_id > after]


def last_id(w: World, chat: int) -> int:
    last = w.fake.last_message(chat)
    return last.message_id if last is not None else 0


async def _room_with_a_card(w: World, support_needed: int = 5) -> StoredMessage:
    for room in ("101", "102", "201"):
        reply = await w.say(OWNERS[room], OWNERS[room], f"/register {w.codes['3-2-' + room]}")
        assert f"3-2-{room}" in reply.text
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    async with w.db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = support_needed
    return await w.say(OWNERS["101"], GROUP, "/propose 楼道灯维修\nThe stairwell light is broken.")


async def test_personal_commands_in_a_group_are_answered_in_private(world: World) -> None:
    w = world
    card = await _room_with_a_card(w)
    group_mark = last_id(w, GROUP)
    owner = OWNERS["102"]
    commands = ["/support 1", "/show 1", "/help", "/me", "/results 1", "/accept 1", "/support 1",
                "/vote 1", "/proposals@other_bot"]
    answers = []
    for command in commands[:-1]:
        answers.append(await w.personal(owner, GROUP, command))
    w.fake.send_text(owner, GROUP, commands[-1])  # for another bot: nothing anywhere
    assert "Co-signed #1: 2/5" in answers[0].text
    assert "History:" in answers[1].text
    assert "/propose" in answers[2].text
    assert "3-2-102" in answers[3].text
    assert "has no vote yet" in answers[4].text
    assert "Only moderators" in answers[5].text
    assert "already co-signed" in answers[6].text
    assert "Only moderators" in answers[7].text
    # The card is edited in place, never posted again; the group got none of the answers.
    await w.fake.wait_for_message(GROUP, lambda m: m.message_id == card.message_id and "2/5" in (m.text or ""))
    await w.settle()
    assert bot_messages(w, GROUP, group_mark) == []
    assert all(a.chat_id == owner for a in answers)
    # A press is answered with a toast, and the room sees only the card's edit.
    toast = await w.press(OWNERS["201"], GROUP, card, w.button(card, "v1:s:"))
    assert "Co-signed #1: 3/5" in toast
    await w.settle()
    assert bot_messages(w, GROUP, group_mark) == []
    assert len([m for m in bot_messages(w, GROUP) if m.message_id == card.message_id]) == 1


async def test_someone_without_a_private_chat_gets_one_pointer_a_day(world: World) -> None:
    w = world
    await _room_with_a_card(w)
    w.fake.add_user(NEWCOMER, "Newcomer Sun", language_code="en")
    w.fake.set_member(GROUP, NEWCOMER, "member")
    mark = last_id(w, GROUP)
    pointer = await w.say(NEWCOMER, GROUP, "/help")
    assert "@yishi_bot" in pointer.text and "Newcomer Sun" in pointer.text
    assert "私聊" in pointer.text  # posted for the room, in its language
    assert len(pointer.text.splitlines()) == 1
    for command in ("/me", "/show 1", "/support 1", "/help"):
        w.fake.send_text(NEWCOMER, GROUP, command)
    await asyncio.sleep(1.0)  # nothing to wait for: the four answers are dropped
    assert [m.message_id for m in bot_messages(w, GROUP, mark)] == [pointer.message_id]
    async with w.db.uow() as uow:
        member = (await uow.session.execute(select(Member).where(Member.external_id == str(NEWCOMER)))).scalar_one()
        assert member.pointed_at is not None and not member.reachable  # persisted: a restart keeps the day
        # The next local day: one more pointer.
        await uow.session.execute(update(Member).where(Member.id == member.id)
                                  .values(pointed_at=utcnow() - timedelta(days=1)))
    again = await w.say(NEWCOMER, GROUP, "/me")
    assert "@yishi_bot" in again.text
    assert len(bot_messages(w, GROUP, mark)) == 2
    # Once they start a private chat, the answers go there and the room hears nothing more.
    w.fake.add_private_chat(NEWCOMER)
    await w.say(NEWCOMER, NEWCOMER, "/start")
    answer = await w.personal(NEWCOMER, GROUP, "/help")
    assert "/propose" in answer.text
    assert len(bot_messages(w, GROUP, mark)) == 2


async def test_a_room_speaks_its_own_language(world: World) -> None:
    w = world
    card = await _room_with_a_card(w, support_needed=2)
    # Chinese by default, whoever asks: an English member's /proposals lands in Chinese.
    listing = await w.say(MODERATOR, GROUP, "/proposals")
    assert "进行中的议题" in listing.text or "#1" in listing.text
    assert "Open proposals" not in listing.text
    # Only the council sets it; the refusal is personal.
    refused = await w.personal(OWNERS["102"], GROUP, "/lang en")
    assert "Only moderators" in refused.text
    set_en = await w.say(MODERATOR, GROUP, "/lang en")
    assert "now English" in set_en.text
    async with w.db.uow() as uow:
        assert (await uow.session.execute(select(ChatRoom.locale))).scalar_one() == "en"
    assert "Open proposals" in (await w.say(OWNERS["102"], GROUP, "/proposals")).text
    # The live card follows the room's language at its next edit, whatever it was posted in.
    await w.press(OWNERS["102"], GROUP, card, w.button(card, "v1:s:"))
    edited = await w.fake.wait_for_message(GROUP, lambda m: m.message_id == card.message_id
                                           and "under review" in (m.text or ""))
    assert "审核中" not in edited.text
    # Private answers keep the member's language.
    await w.say(OWNERS["201"], OWNERS["201"], "/lang zh")
    assert "历史" in (await w.personal(OWNERS["201"], GROUP, "/show 1")).text or "#1" in (
        await w.personal(OWNERS["201"], GROUP, "/show 1")).text
    accepted = await w.say(MODERATOR, GROUP, "/accept 1")
    assert "on the agenda" in accepted.text
    ballot = await w.say(MODERATOR, GROUP, "/vote 1 simple 3d")
    assert {"Yes", "No", "Abstain"} <= {b["text"] for row in ballot.reply_markup["inline_keyboard"] for b in row}
    back = await w.say(MODERATOR, GROUP, "/lang zh")
    assert "中文" in back.text
    await w.press(OWNERS["101"], GROUP, ballot, w.button(ballot, "v1:b:1:y"))
    rerendered = await w.fake.wait_for_message(GROUP, lambda m: m.message_id == ballot.message_id
                                               and "赞成" in str(m.reply_markup))
    assert "Yes" not in str(rerendered.reply_markup)


async def test_the_council_hears_when_a_matter_reaches_its_threshold(world: World) -> None:
    w = world
    card = await _room_with_a_card(w, support_needed=3)
    mark = last_id(w, MODERATOR)
    await w.press(OWNERS["102"], GROUP, card, w.button(card, "v1:s:"))
    assert "reached 3" in await w.press(OWNERS["201"], GROUP, card, w.button(card, "v1:s:"))
    notice = await w.fake.wait_for_message(MODERATOR, lambda m: m.from_bot and "v1:rv:1:a" in m.callback_data,
                                           after=mark)
    assert "楼道灯维修" in notice.text and notice.callback_data == ["v1:rv:1:a", "v1:rv:1:d"]
    decline = await w.press(MODERATOR, MODERATOR, notice, "v1:rv:1:d")
    assert "/decline 1" in decline
    accept = await w.press(MODERATOR, MODERATOR, notice, "v1:rv:1:a")
    assert "on the agenda" in accept
    async with w.db.uow() as uow:
        assert (await uow.session.get(Proposal, 1)).state == "agenda"  # type: ignore[union-attr]
    await w.fake.wait_for_message(GROUP, lambda m: m.message_id == card.message_id and "议程" in (m.text or ""))
    # The next matter within ten minutes waits in the same bundled notice, not a second message now.
    second = await w.say(OWNERS["101"], GROUP, "/propose 车棚重新刷漆")
    await w.press(OWNERS["102"], GROUP, second, w.button(second, "v1:s:"))
    await w.press(OWNERS["201"], GROUP, second, w.button(second, "v1:s:"))
    await asyncio.sleep(0.5)
    async with w.db.uow() as uow:
        moderator = (await uow.session.execute(select(Member).where(Member.external_id == str(MODERATOR)))).scalar_one()
        rows = (await uow.session.execute(select(OutboxMessage).where(
            OutboxMessage.member_id == moderator.id, OutboxMessage.dedupe_key.startswith("reg-waiting:"))  # type: ignore[union-attr]
            .order_by(OutboxMessage.id))).scalars().all()  # type: ignore[arg-type]
    assert [r.status for r in rows] == ["sent", "pending"]
    assert rows[0].sent_at is not None and rows[1].not_before >= rows[0].sent_at + timedelta(minutes=10)
    assert "车棚重新刷漆" in str(rows[1].payload)
    assert len([m for m in bot_messages(w, MODERATOR, mark) if "v1:rv:" in str(m.callback_data)]) == 1
