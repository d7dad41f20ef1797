"""Attacks on residents' requests, on both runtimes: who may see a request, act on it or rate it.

A request's author, text and place are for its author, its party's handlers and the council only; a
handler of another party, a neighbour or a stranger learns nothing, not even that the work order exists;
forged rating presses, a rating by someone else, hostile text and nonsense numbers change nothing.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.services import requests as service
from bot.storage.models import LedgerEntry, ResidentRequest
from tests.e2e.conftest import GROUP, MODERATOR, OUTSIDER, OWNERS, World
from tests.e2e.conftest import world as world  # noqa: F401 - the fixture, on both runtimes

PROPERTY, GRID = 7001, 7101
SECRET = "my door code is 4711"


async def _setup(w: World) -> None:
    for user in (PROPERTY, GRID):
        w.fake.add_user(user, f"Handler {user}", language_code="en")
        w.fake.add_private_chat(user)
        await w.say(user, user, "/lang en")
    await service.configure(w.db, "幸福里", parties=[("PropertyCo", "property"), ("Grid", "grid")],
                            routes=[("repair", "PropertyCo"), ("noise", "Grid")])
    await service.add_handler(w.db, "幸福里", "telegram", str(PROPERTY), "PropertyCo")
    await service.add_handler(w.db, "幸福里", "telegram", str(GRID), "Grid")
    for room in ("101", "102"):
        await w.say(OWNERS[room], OWNERS[room], f"/register {w.codes['3-2-' + room]}")


async def _state(w: World) -> tuple[int, str, int]:
    async with w.db.uow(readonly=True) as uow:
        count = (await uow.session.execute(select(func.count()).select_from(ResidentRequest))).scalar_one()
        row = await uow.session.get(ResidentRequest, 1)
        entries = (await uow.session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
    return int(count), row.state if row else "", int(entries)


async def test_nobody_else_sees_or_moves_a_request(world: World) -> None:
    w = world
    await _setup(w)
    owner = OWNERS["101"]
    await w.say(owner, owner, f"/report repair 3-2-101 Leak under the sink, {SECRET}")
    before = await _state(w)
    for user in (GRID, OWNERS["102"], OUTSIDER):
        for command in ("/order R1", "/take R1", "/reply R1 hello", "/resolve R1 done", "/transfer R1 Grid mine",
                        "/reopen R1 not fixed"):
            answer = await w.say(user, user, command)
            assert SECRET not in (answer.text or "")
            assert "R1" not in (answer.text or "") or "There is no work order R1" in answer.text or \
                "register" in answer.text.lower()
    for command in ("/queue", "/myreports"):
        assert SECRET not in (await w.say(GRID, GRID, command)).text
    assert await _state(w) == before
    # Nothing about it in a group room, and handler commands are refused there.
    refused = await w.personal(owner, GROUP, "/order R1")  # a refusal is personal: in private
    assert "private chat" in refused.text and SECRET not in refused.text
    # The ledger has no text and no place: an export of it reveals neither.
    async with w.db.uow(readonly=True) as uow:
        payloads = (await uow.session.execute(select(LedgerEntry.payload).where(
            LedgerEntry.subject == "request:1"))).scalars().all()
    assert payloads and not any(SECRET in p or "3-2-101" in p for p in payloads)
    assert json.loads(payloads[0])["by"] > 0


async def test_forged_and_foreign_ratings_change_nothing(world: World) -> None:
    w = world
    await _setup(w)
    owner = OWNERS["101"]
    await w.say(owner, owner, "/report repair 3-2 Broken lamp")
    await w.say(PROPERTY, PROPERTY, "/resolve R1 Replaced")
    rate = await w.fake.wait_for_message(owner, lambda m: m.from_bot and "Replaced" in (m.text or ""))
    before = await _state(w)
    # The neighbour sends the author's button data from their own chat (a forged press).
    neighbour = OWNERS["102"]
    decoy = await w.say(neighbour, neighbour, "/myreports")
    query = w.fake.press_button(neighbour, neighbour, decoy.message_id, "v1:rq:1:s", forged=True)
    answer = await w.fake.wait_for_callback_answer(query, timeout=10.0)
    assert "no longer valid" in (answer.text or "")
    # The handler presses on the author's message (Telegram would never let them; the data is checked anyway).
    for data in ("v1:rq:1:x", "v1:rq:99999999999:s", "v1:rq:1:s:1"):
        query = w.fake.press_button(owner, owner, rate.message_id, data, forged=True)
        answer = await w.fake.wait_for_callback_answer(query, timeout=10.0)
        assert "no longer valid" in (answer.text or "")
    assert await _state(w) == before
    # The council sees it but does not rate it.
    assert "Only the resident who reported" in (await w.say(MODERATOR, MODERATOR, "/reopen R1 not good")).text
    assert await _state(w) == before


async def test_hostile_text_is_cleaned_and_nonsense_refused(world: World) -> None:
    w = world
    await _setup(w)
    owner = OWNERS["101"]
    answer = await w.say(owner, owner, "/report repair 3-2 \x1b[31mLamp\u202e broken\u200b")
    assert "R1" in answer.text
    async with w.db.uow(readonly=True) as uow:
        row = await uow.session.get(ResidentRequest, 1)
    assert row is not None and row.text == "Lamp broken"
    for command in ("/take R99999999999", "/take -1", "/take R0", "/order", "/reply R1", "/transfer R1 Grid"):
        reply = await w.say(PROPERTY, PROPERTY, command)
        assert reply.text and "Sorry" not in reply.text
    assert (await _state(w))[1] == "submitted"
