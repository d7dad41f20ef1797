"""Chinese in, Chinese out: every command by its Chinese keyword (with or without the slash) and every
argument in its Chinese form, on both runtimes, checked by the effect in the database.

Replies are looked for in the room AND in the sender's private chat, so these tests hold whichever of
the two a reply goes to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.storage.models import (
    Ballot,
    ChatRoom,
    Community,
    DigestSubscription,
    InboxUpdate,
    Meeting,
    Member,
    MemberLink,
    Objection,
    OutboxMessage,
    Proposal,
    Support,
    Vote,
)
from tests.e2e.conftest import GROUP, MODERATOR, OTHER_GROUP, OWNERS, World
from tests.test_plain_words import _codes_in

Check = Callable[[Any], Awaitable[bool]]


async def _until(w: World, check: Check, what: str, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            async with w.db.uow(readonly=True) as uow:
                if await check(uow.session):
                    return
            await asyncio.sleep(0.03)
    raise AssertionError(what)  # pragma: no cover - the timeout raises first


async def act(w: World, user: int, chat: int, text: str, check: Check) -> None:
    """The user writes ``text``; waits until ``check`` holds in the database."""
    w.fake.send_text(user, chat, text)
    try:
        await _until(w, check, text)
    except TimeoutError:
        raise AssertionError(f"{text!r} had no effect; bot said: {_said(w, chat, user)}") from None


def _said(w: World, *chats: int) -> list[str]:
    return [m.text or "" for c in set(chats) for m in w.fake.messages(c) if m.from_bot][-4:]


async def _settle(w: World) -> None:
    """Until every update was handled and every queued message went out (a late reply to an earlier
    command must not pass for the answer to the next one)."""
    async def settled(session: Any) -> bool:
        unhandled = await _count(InboxUpdate, InboxUpdate.handled_at.is_(None))(session)  # type: ignore[union-attr]
        queued = await _count(OutboxMessage, OutboxMessage.status.in_(("pending", "sending")))(session)  # type: ignore[attr-defined]
        return unhandled == 0 and queued == 0

    await _until(w, settled, "settled")


async def answer(w: World, user: int, chat: int, text: str) -> str:
    """The user writes ``text``; returns the bot's answer, in the room or in the user's private chat."""
    await _settle(w)
    chats = {chat, user}
    last = {c: max((m.message_id for m in w.fake.messages(c)), default=0) for c in chats}
    w.fake.send_text(user, chat, text)

    def new() -> list[str]:
        return [m.text or "" for c in chats for m in w.fake.messages(c) if m.from_bot and m.message_id > last[c]]

    await w.fake.wait_for(lambda: bool(new()), 10.0)
    return "\n".join(new())


async def quiet(w: World, user: int, chat: int, texts: list[str]) -> None:
    """Ordinary chat: each message is handled, and nothing is answered or changed."""
    # Counted once the earlier commands are done: a notice they queue late must not pass for an answer here.
    await _settle(w)
    await w.settle()
    async with w.db.uow(readonly=True) as uow:
        handled = (await uow.session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one()
        queued = (await uow.session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    last = {c: max((m.message_id for m in w.fake.messages(c)), default=0) for c in (chat, user)}
    for text in texts:
        w.fake.send_text(user, chat, text)

    async def all_handled(session: Any) -> bool:
        rows = (await session.execute(select(InboxUpdate.handled_at))).scalars().all()
        return len(rows) >= handled + len(texts) and all(r is not None for r in rows)

    await _until(w, all_handled, "chat messages handled")
    async with w.db.uow(readonly=True) as uow:
        assert (await uow.session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one() == queued
    assert not [m.text for c in (chat, user) for m in w.fake.messages(c) if m.from_bot and m.message_id > last[c]]


def _count(model: Any, *where: Any) -> Check:
    async def check(session: Any) -> int:
        return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())

    return check


def _at_least(model: Any, n: int, *where: Any) -> Check:
    async def check(session: Any) -> bool:
        return await _count(model, *where)(session) >= n

    return check


def _proposal(pid: int, **fields: Any) -> Check:
    async def check(session: Any) -> bool:
        p = await session.get(Proposal, pid)
        return p is not None and all(getattr(p, k) == v for k, v in fields.items())

    return check


async def _verified(w: World, room: str) -> Check:
    async def check(session: Any) -> bool:
        member = (await session.execute(select(Member).where(Member.external_id == str(OWNERS[room])))).scalar()
        if member is None:
            return False
        return (await session.execute(select(MemberLink).where(
            MemberLink.member_id == member.id, MemberLink.status == "verified"))).first() is not None

    return check


async def _member(w: World, user: int) -> Member:
    async with w.db.uow(readonly=True) as uow:
        return (await uow.session.execute(select(Member).where(Member.external_id == str(user)))).scalar_one()


async def _setup(w: World, rooms: tuple[str, ...], support: int) -> None:
    for index, room in enumerate(rooms):
        # Bare keyword and slash keyword, one after the other.
        text = ("登记 " if index % 2 == 0 else "/登记 ") + w.codes["3-2-" + room]
        await act(w, OWNERS[room], OWNERS[room], text, await _verified(w, room))
    await act(w, MODERATOR, GROUP, "绑定 3号楼2单元", _count_scope(GROUP, "3-2"))
    async with w.db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = support


def _count_scope(chat: int, scope: str) -> Check:
    async def check(session: Any) -> bool:
        room = (await session.execute(select(ChatRoom).where(ChatRoom.chat_id == str(chat)))).scalar()
        return room is not None and room.scope == scope

    return check


async def test_agenda_and_vote_by_chinese_keywords(world: World) -> None:
    w = world
    await _setup(w, ("101", "102", "201", "202"), support=3)
    await act(w, OWNERS["101"], GROUP, "提议 楼道灯坏了\n三楼到五楼都不亮", _proposal(1, state="collecting"))
    # People talking about co-signing: no command, no answer, no co-signature.
    await quiet(w, OWNERS["102"], GROUP, ["附议的人多吗", "附议 一下吧", "附议", "附议，我也觉得", "结果 出来了吗",
                                          "帮助 我一下", "表决什么时候开始", "开始", "提醒 关",
                                          f"登记 {w.codes['3-2-301']}"])
    async with w.db.uow(readonly=True) as uow:
        assert await _count(Support, Support.proposal_id == 1)(uow.session) == 1
    await act(w, OWNERS["102"], GROUP, "附议 1", _at_least(Support, 2, Support.proposal_id == 1))
    await act(w, OWNERS["201"], GROUP, "/附议 #1", _proposal(1, state="review"))
    await act(w, MODERATOR, GROUP, "受理 1", _proposal(1, state="agenda"))

    # Second matter withdrawn by its author; third merged into the fourth, which is declined.
    await act(w, OWNERS["102"], GROUP, "提议 单元门禁维修", _proposal(2, state="collecting"))
    await act(w, OWNERS["102"], GROUP, "撤回 2", _proposal(2, state="withdrawn"))
    await act(w, OWNERS["201"], GROUP, "提议 自行车棚刷漆", _proposal(3, state="collecting"))
    # The duplicate check offers #3 first; "submit mine anyway" makes #4.
    offer_text = await answer(w, OWNERS["202"], GROUP, "/提议 给自行车棚刷漆")
    assert "#3" in offer_text
    # The offer is personal (the group's budget): it comes in the author's private chat.
    offer = [m for m in w.fake.messages(OWNERS["202"]) if m.from_bot and m.callback_data
             and any(d.startswith("v1:new:") for d in m.callback_data)][-1]
    await w.press(OWNERS["202"], OWNERS["202"], offer, w.button(offer, "v1:new:"))
    await _until(w, _proposal(4, state="collecting"), "#4")
    await act(w, MODERATOR, GROUP, "合并 4 3", _proposal(4, state="merged", merged_into_id=3))
    await act(w, MODERATOR, GROUP, "不予受理 3 街道统一安排", _proposal(3, state="declined"))

    # The vote: plain kind name, "10 天" as two words, "公开".
    async def vote_open(session: Any) -> bool:
        vote = (await session.execute(select(Vote).where(Vote.proposal_id == 1))).scalar()
        return vote is not None and vote.kind == "simple" and not vote.secret \
            and vote.closes_at - vote.opened_at == timedelta(days=10)

    await act(w, MODERATOR, GROUP, "表决 1 简单多数 10 天 公开", vote_open)
    ballots = [
        ("委托投票 1 3-2-301 赞成 委托书第3号", "proxy", "yes"),
        ("纸质票 1 3-2-302 反对 纸质选票", "paper", "no"),
        ("/纸质票 1 3-2-401 弃权 纸质选票", "paper", "abstain"),
        ("/paper 1 3-2-402 同意 signed paper", "paper", "yes"),
        ("委托投票 1 3-2-501 不同意 代理人王某", "proxy", "no"),
    ]
    for count, (text, source, choice) in enumerate(ballots, start=1):
        await act(w, MODERATOR, GROUP, text, _at_least(Ballot, count))
        async with w.db.uow(readonly=True) as uow:
            last = (await uow.session.execute(select(Ballot).order_by(Ballot.id.desc()).limit(1))).scalar_one()  # type: ignore[union-attr]
        assert (last.source, last.choice) == (source, choice), text
    assert "#1" in await answer(w, OWNERS["101"], GROUP, "结果 1")
    assert "#1" in await answer(w, OWNERS["101"], GROUP, "查看 1")
    assert "#1" in await answer(w, OWNERS["101"], GROUP, "议题")

    async def closed(session: Any) -> bool:
        vote = (await session.execute(select(Vote).where(Vote.proposal_id == 1))).scalar()
        return vote is not None and vote.status == "closed"

    await act(w, MODERATOR, GROUP, "结束表决 1", closed)
    # 2 yes, 2 no, 1 abstain: not a majority of the ballots cast.
    await _until(w, _proposal(1, state="rejected"), "rejected")


async def test_elevator_objections_by_chinese_words(world: World) -> None:
    w = world
    await _setup(w, ("101",), support=1)
    await act(w, OWNERS["101"], GROUP, "提议 加装电梯", _proposal(1, category="elevator"))
    await act(w, MODERATOR, GROUP, "受理 1", _proposal(1, state="agenda"))

    async def elevator_vote(session: Any) -> bool:
        vote = (await session.execute(select(Vote).where(Vote.proposal_id == 1))).scalar()
        return vote is not None and vote.kind == "art278_major" \
            and vote.closes_at - vote.opened_at == timedelta(days=10)

    await act(w, MODERATOR, GROUP, "表决 1 加装电梯 10天", elevator_vote)
    await act(w, MODERATOR, GROUP, "异议 1 3-2-101 采光 挡住窗户", _at_least(Objection, 1, Objection.reason == "light"))
    for number, (word, reason) in enumerate([("噪音", "noise"), ("通行", "access"), ("费用", "cost"),
                                             ("其他", "other")], start=2):
        await act(w, MODERATOR, GROUP, f"/异议 1 3-2-{number}01 {word}", _at_least(Objection, 1, Objection.id == number,
                                                                              Objection.reason == reason))
    for text, status in [("异议 状态 1 调解中", "mediating"), ("/objection status 1 已解决", "resolved"),
                         ("/异议 状态 1 已上报", "escalated"), ("异议 状态 1 待处理", "open")]:
        await act(w, MODERATOR, GROUP, text, _at_least(Objection, 1, Objection.id == 1, Objection.status == status))
    listed = await answer(w, MODERATOR, GROUP, "异议 1")
    assert "#1" in listed and "#5" in listed
    # An unknown Chinese word: the usage line, in the member's language (Chinese), and nothing recorded.
    await act(w, MODERATOR, MODERATOR, "语言 中文", _member_is(MODERATOR, locale="zh_CN"))
    # The objection list and the matter's history in Chinese: every code shown as a word.
    listed = await answer(w, MODERATOR, GROUP, "异议 1")
    assert "采光" in listed and "待处理" in listed and _codes_in(listed) == [], listed
    shown = await answer(w, MODERATOR, GROUP, "查看 1")
    assert "重大事项" in shown and "3 号楼 2 单元" in shown and _codes_in(shown) == [], shown
    assert "用法" in await answer(w, MODERATOR, GROUP, "异议 1 3-2-101 风水")
    assert "用法" in await answer(w, MODERATOR, GROUP, "/异议 状态 1 吵架中")
    assert "用法" in await answer(w, MODERATOR, GROUP, "/表决 1 飞机")
    assert "用法" in await answer(w, MODERATOR, GROUP, "/绑定 火星")
    assert "用法" in await answer(w, MODERATOR, GROUP, "/结果 1 火星")
    assert "用法" in await answer(w, MODERATOR, GROUP, "/paper 1 3-2-301 随便 纸质选票")
    async with w.db.uow(readonly=True) as uow:
        assert await _count(Objection)(uow.session) == 5
        assert await _count(Ballot)(uow.session) == 0


def _member_is(user: int, **fields: Any) -> Check:
    async def check(session: Any) -> bool:
        member = (await session.execute(select(Member).where(Member.external_id == str(user)))).scalar()
        return member is not None and all(getattr(member, k) == v for k, v in fields.items())

    return check


async def test_settings_meetings_and_answers_by_chinese_words(world: World) -> None:
    w = world
    owner = OWNERS["101"]
    await _setup(w, ("101",), support=1)
    await act(w, owner, owner, "语言 英文", _member_is(owner, locale="en"))
    await act(w, owner, owner, "/语言 中文", _member_is(owner, locale="zh_CN"))
    await act(w, owner, owner, "提醒 关", _member_is(owner, nudges=False))
    await act(w, owner, owner, "/提醒 开启", _member_is(owner, nudges=True))
    member = await _member(w, owner)

    async def weekly_monday(session: Any) -> bool:
        sub = (await session.execute(select(DigestSubscription).where(
            DigestSubscription.member_id == member.id))).scalar()
        return sub is not None and (sub.cadence, sub.weekday, sub.at_time) == ("weekly", 0, "09:00")

    await act(w, owner, owner, "摘要 每周 星期一 09:00", weekly_monday)

    async def room_daily(session: Any) -> bool:
        sub = (await session.execute(select(DigestSubscription).where(
            DigestSubscription.room_id.is_not(None)))).scalar()  # type: ignore[union-attr]
        return sub is not None and (sub.cadence, sub.at_time) == ("daily", "20:00")

    await act(w, MODERATOR, GROUP, "摘要 每天 20:00", room_daily)

    async def my_sunday(session: Any) -> bool:
        sub = (await session.execute(select(DigestSubscription).where(
            DigestSubscription.member_id == member.id))).scalar()
        return sub is not None and sub.weekday == 6

    await act(w, owner, GROUP, "/摘要 我 每周 周日", my_sunday)
    await act(w, MODERATOR, OTHER_GROUP, "/绑定 全部", _count_scope(OTHER_GROUP, "all"))
    await act(w, MODERATOR, OTHER_GROUP, "绑定 3栋", _count_scope(OTHER_GROUP, "3"))
    await act(w, MODERATOR, OTHER_GROUP, "/bind 3号楼1单元", _count_scope(OTHER_GROUP, "3-1"))

    day = (await _now_local(w) + timedelta(days=3)).strftime("%Y-%m-%d")
    await act(w, MODERATOR, GROUP, f"会议 {day} 19:30", _at_least(Meeting, 1, Meeting.status == "scheduled"))
    await act(w, MODERATOR, GROUP, "会议 取消", _at_least(Meeting, 1, Meeting.status == "cancelled"))

    # Answers only: each keyword gets its command's answer.
    assert "附议" in await answer(w, owner, owner, "帮助")
    assert "3-2-101" in await answer(w, owner, owner, "我的信息")
    assert "/register" in await answer(w, OWNERS["102"], OWNERS["102"], "开始")
    home = await answer(w, OWNERS["102"], OWNERS["102"], "登记 3-2-102")
    assert "3-2-102" in home
    assert await answer(w, MODERATOR, MODERATOR, "待审核")
    # The progress keyword reaches /progress (refused here: the matter was not adopted).
    await act(w, owner, GROUP, "提议 修理路灯", _proposal(1, state="review"))
    assert "under review" in await answer(w, MODERATOR, GROUP, "进展 1 完成")


async def _now_local(w: World) -> Any:
    from bot.storage.models import utcnow

    return utcnow().astimezone(w.app.tz)
