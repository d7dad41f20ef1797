"""The contract suite: one story and every bad input, the same on aiogram and on python-telegram-bot."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.storage.models import Ballot, Support
from tests.e2e.conftest import GROUP, MODERATOR, OTHER_GROUP, OUTSIDER, OWNERS, TENANT, World


async def _register_by_code(w: World, room: str) -> None:
    reply = await w.say(OWNERS[room], OWNERS[room], f"/register {w.codes['3-2-' + room]}")
    assert f"3-2-{room}" in reply.text


async def test_whole_story(world: World) -> None:
    w = world
    # Register with a code (deep link and command) and by room with a moderator's approval.
    first = await w.say(OWNERS["101"], OWNERS["101"], f"/start reg_{w.codes['3-2-101']}")
    assert "owner of 3-2-101" in first.text
    for room in ("102", "301", "302", "401", "402"):
        await _register_by_code(w, room)
    question = await w.say(OWNERS["201"], OWNERS["201"], "/register 3-2-201")
    assert "3-2-201" in question.text
    toast = await w.press(OWNERS["201"], OWNERS["201"], question, w.button(question, "v1:rg:"))
    assert "sent" in toast.lower()
    pending = await w.say(MODERATOR, MODERATOR, "/pending")
    assert "3-2-201" in pending.text and "Owner 201" in pending.text
    approved = await w.press(MODERATOR, MODERATOR, pending, w.button(pending, "v1:ap:") .replace(":d", ":a"))
    assert "approved" in approved
    notice = await w.fake.wait_for_message(OWNERS["201"], lambda m: m.from_bot and "approved" in (m.text or ""))
    assert "3-2-201" in notice.text
    me = await w.say(OWNERS["201"], OWNERS["201"], "/me")
    assert "3-2-201" in me.text

    # Bind the room, propose, meet the duplicate check, co-sign to the threshold.
    bound = await w.say(MODERATOR, GROUP, "/bind 3-2")
    assert "3 号楼 2 单元" in bound.text and "12" in bound.text  # the room speaks Chinese by default
    card = await w.say(OWNERS["101"], GROUP, "/propose 3号楼2单元加装电梯\nWe are old; six floors is too many.")
    assert "#1" in card.text and "1/5" in card.text and "▓░░░░" in card.text
    support = w.button(card, "v1:s:")
    offer = await w.personal(OWNERS["102"], GROUP, "/propose 三号楼二单元申请装电梯")
    assert "#1" in offer.text and offer.chat_id == OWNERS["102"]  # an offer is personal: in private
    toast = await w.press(OWNERS["102"], OWNERS["102"], offer, w.button(offer, "v1:dup:"))
    assert "2/5" in toast
    for room in ("201", "301"):
        toast = await w.press(OWNERS[room], GROUP, card, support)
        assert "Co-signed" in toast
    again = await w.press(OWNERS["301"], GROUP, card, support)
    assert "already" in again
    reached = await w.press(OWNERS["302"], GROUP, card, support)
    assert "reached 5" in reached
    async with w.db.uow() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(Support))).scalar_one() == 5
    listing = await w.say(OWNERS["101"], GROUP, "/proposals")
    assert "#1" in listing.text

    # Review and the elevator vote in building-unit scope.
    refused = await w.personal(OWNERS["101"], GROUP, "/accept 1")
    assert "Only moderators" in refused.text
    accepted = await w.say(MODERATOR, GROUP, "/accept 1")
    assert "议程" in accepted.text  # posted for the room, in its language (Chinese by default)
    ballot = await w.say(MODERATOR, GROUP, "/vote 1 elevator 7d")
    assert "0/12" in ballot.text
    assert {"赞成", "反对", "弃权"} <= {b["text"] for row in ballot.reply_markup["inline_keyboard"] for b in row}
    yes, no = w.button(ballot, "v1:b:1:y"), w.button(ballot, "v1:b:1:n")
    for room in ("101", "201", "301", "302", "401"):
        toast = await w.press(OWNERS[room], GROUP, ballot, yes)
        assert "Recorded: Yes" in toast and "change it until" in toast
    assert "Recorded: No" in await w.press(OWNERS["102"], GROUP, ballot, no)
    assert "Recorded: Yes" in await w.press(OWNERS["102"], GROUP, ballot, yes)  # a changed vote
    assert "Already recorded" in await w.press(OWNERS["102"], GROUP, ballot, yes)
    outsider = await w.say(OUTSIDER, OUTSIDER, f"/register {w.codes['3-1-101']}")
    assert "3-1-101" in outsider.text
    refusal = await w.press(OUTSIDER, GROUP, ballot, yes)
    assert "not on this vote's roll" in refusal
    paper = await w.personal(MODERATOR, GROUP, "/paper 1 3-2-501 yes signed paper ballot no. 3",
                             match=lambda t: "3-2-501" in t and "ballot" in t)
    assert "3-2-501" in paper.text
    await w.fake.wait_for_message(GROUP, lambda m: m.message_id == ballot.message_id and "7/12" in (m.text or ""))
    edits = w.fake.message(GROUP, ballot.message_id).edit_count
    assert edits >= 1 and edits < 9  # edited, but throttled: fewer edits than the 9 presses
    standing = await w.personal(OWNERS["101"], GROUP, "/results 1")
    assert "still open" in standing.text

    # Close and read the result with every criterion.
    closing = await w.say_all(MODERATOR, GROUP, "/close 1", count=1)
    result = next(m for m in closing if "NOT PASSED" in (m.text or "") or "PASSED" in (m.text or "")
                  or "通过" in (m.text or ""))
    assert result is not None
    read = await w.personal(OWNERS["101"], GROUP, "/results 1")
    # 7 of 12 owners took part: 58.33% of heads < 66.67%, so the quorum fails.
    assert "NOT PASSED" in read.text and "58.33%" in read.text and "66.67%" in read.text
    assert "taking part, by heads" in read.text and "approving, by area" in read.text
    async with w.db.uow() as uow:
        sources = sorted((await uow.session.execute(select(Ballot.source))).scalars())
    assert sources == ["paper"] + ["self"] * 6
    await w.settle()  # the result goes out before the ballot's closing edit
    closed_ballot = w.fake.message(GROUP, ballot.message_id)
    assert not closed_ballot.callback_data, closed_ballot.edit_history  # buttons gone once closed
    show = await w.personal(OWNERS["101"], GROUP, "/show 1")
    assert "vote #1 closed" in show.text and "accepted onto the agenda" in show.text


async def test_bad_input_gets_a_clear_answer(world: World) -> None:
    w = world
    owner = OWNERS["101"]
    assert "Unknown command /frobnicate" in (await w.say(owner, owner, "/frobnicate")).text
    assert "/help" in (await w.say(owner, owner, "hello there")).text
    assert "Usage" in (await w.say(owner, owner, "/register")).text
    assert "invite code" in (await w.say(owner, owner, "/register ZZZZ-ZZZZ")).text
    assert "proposal number" in (await w.say(owner, owner, "/support abc")).text
    assert "no proposal #999" in (await w.say(owner, owner, "/support 999")).text
    assert "group room" in (await w.say(owner, owner, "/propose A new bench")).text
    assert "not bound" in (await w.personal(TENANT, OTHER_GROUP, "/propose A new bench")).text
    assert "Only moderators" in (await w.personal(TENANT, OTHER_GROUP, "/bind 3-2")).text
    assert "private chat" in (await w.personal(owner, GROUP, "/register 3-2-101")).text
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    assert "Register first" in (await w.personal(owner, GROUP, "/propose Fix the stairwell light")).text
    assert "Usage" in (await w.personal(MODERATOR, GROUP, "/vote 1")).text
    assert "Usage" in (await w.personal(MODERATOR, GROUP, "/decline 1")).text
    help_text = (await w.personal(MODERATOR, GROUP, "/help")).text
    assert "/vote" in help_text and "/close" in help_text
    member_help = (await w.personal(TENANT, GROUP, "/help")).text
    assert "/vote" not in member_help and "/propose" in member_help
    await w.say(owner, owner, "/lang zh")
    assert "赞成" not in (await w.say(owner, owner, "/me")).text
    me = (await w.say(owner, owner, "/me")).text
    assert "/lang" in me and "当前语言：中文" in me


async def test_command_menus_are_localized(world: World) -> None:
    zh = world.fake.commands(scope={"type": "all_private_chats"}, language_code="zh")
    en = world.fake.commands(scope={"type": "all_private_chats"}, language_code="en")
    admins = world.fake.commands(scope={"type": "all_chat_administrators"}, language_code="en")
    assert {c["command"] for c in en} >= {"start", "register", "me", "lang", "help"}
    assert {c["command"] for c in admins} >= {"vote", "close", "accept", "paper"}
    assert [c["command"] for c in zh] == [c["command"] for c in en]
    assert zh[0]["description"] != en[0]["description"]


async def test_choice_vote_in_private_review_and_objections(world: World) -> None:
    w = world
    for room in ("101", "102", "201"):
        await _register_by_code(w, room)
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    assert "now English" in (await w.say(MODERATOR, GROUP, "/lang en")).text  # the room's language
    async with w.db.uow() as uow:
        from bot.storage.models import Community

        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 3
    assert "English" in (await w.say(OWNERS["101"], OWNERS["101"], "/lang en")).text
    card = await w.say(OWNERS["101"], GROUP, "/propose parking: Paint the bicycle shed\nWhich colour?")
    assert "parking" in card.text
    early = await w.personal(MODERATOR, GROUP, "/accept 1")
    assert "Not possible now" in early.text and "collecting" in early.text
    for room in ("102", "201"):
        await w.press(OWNERS[room], GROUP, card, w.button(card, "v1:s:"))
    first = await w.say(OWNERS["102"], GROUP, "/propose environment: Plant trees by the gate")
    assert "#2" in first.text
    dup = await w.personal(OWNERS["201"], GROUP, "/propose environment: Plant trees near the gate")
    submit = w.button(dup, "v1:new:")
    await w.press(OWNERS["201"], dup.chat_id, dup, submit)
    await w.fake.wait_for_message(GROUP, lambda m: m.from_bot and (m.text or "").startswith("#3"))
    merged = await w.say(MODERATOR, GROUP, "/merge 3 2")
    assert "merged into #2" in merged.text
    declined = await w.say(MODERATOR, GROUP, "/decline 2 The district plants the trees in spring")
    assert "district plants" in declined.text
    assert "agenda" in (await w.say(MODERATOR, GROUP, "/accept 1")).text
    ballot = await w.say(MODERATOR, GROUP, "/vote 1 choice 3d\nGreen\nBlue\nRed")
    link = [b for row in ballot.reply_markup["inline_keyboard"] for b in row][0]
    assert link["url"].endswith("?start=vote_1")
    view = await w.say(OWNERS["102"], OWNERS["102"], "/start vote_1")
    pick_blue = w.button(view, "v1:o:1:0:1")
    await w.press(OWNERS["102"], OWNERS["102"], view, pick_blue)
    edited = await w.fake.wait_for_message(OWNERS["102"], lambda m: m.message_id == view.message_id
                                           and "v1:os:1:2" in m.callback_data)
    toast = await w.press(OWNERS["102"], OWNERS["102"], edited, "v1:os:1:2")
    assert "Recorded: Blue" in toast
    closed = await w.say_all(MODERATOR, GROUP, "/close 1", count=1)
    assert any("Blue" in (m.text or "") and "Green" in (m.text or "") for m in closed), [m.text for m in closed]
    listing = await w.say(OWNERS["101"], GROUP, "/proposals")
    assert "#1" in listing.text


async def test_elevator_objections_in_the_chat(world: World) -> None:
    w = world
    await _register_by_code(w, "101")
    await w.say(MODERATOR, GROUP, "/bind 3-2")
    await w.say(MODERATOR, GROUP, "/lang en")
    async with w.db.uow() as uow:
        from bot.storage.models import Community

        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 1
    await w.say(OWNERS["101"], GROUP, "/propose elevator: Elevator for 3-2")
    await w.say(MODERATOR, GROUP, "/accept 1")
    await w.say(MODERATOR, GROUP, "/vote 1 elevator 10d")
    recorded = await w.say(MODERATOR, GROUP, "/objection 1 3-2-101 light The shaft blocks my window")
    assert "Objection #1 recorded" in recorded.text and "floor 1" in recorded.text
    bad = await w.personal(MODERATOR, GROUP, "/objection 1 3-2-101 fengshui")
    assert "light, noise, access, cost or other" in bad.text
    updated = await w.say(MODERATOR, GROUP, "/objection status 1 mediating")
    assert "mediating" in updated.text
    listed = await w.personal(OWNERS["101"], GROUP, "/objection 1")
    assert "Only moderators" in listed.text
    listed = await w.personal(MODERATOR, GROUP, "/objection 1")
    assert "#1 floor 1" in listed.text
