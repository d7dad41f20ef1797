"""Attacks on the photos of residents' requests, on both runtimes, through the fake Bot API.

A request's photos are for its author, its party's handlers and the council only: another party's handler,
a neighbour or a stranger gets no photo and cannot add one; a photo over the platform's download limit or
past the per-request limit is refused with nothing changed; a forged file id costs nothing but its own
failed send; the ledger counts photos and never names them.
"""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select

from bot.chat.port import MAX_PHOTO_BYTES
from bot.fakeapi.server import StoredMessage
from bot.storage.models import LedgerEntry, OutboxMessage, RequestPhoto, ResidentRequest
from tests.e2e.conftest import MODERATOR, OUTSIDER, OWNERS, World
from tests.e2e.conftest import world as world  # noqa: F401 - the fixture, on both runtimes
from tests.security.test_requests import GRID, PROPERTY, _setup


def _photos(w: World, chat: int, after: int = 0) -> list[StoredMessage]:
    return [m for m in w.fake.messages(chat) if m.from_bot and m.photo and m.message_id > after]


async def _answer(w: World, sent: StoredMessage) -> str:
    found = await w.fake.wait_for_message(sent.chat_id, lambda m: m.from_bot and bool(m.text), after=sent.message_id)
    return found.text or ""


async def _state(w: World) -> tuple[int, int, int]:
    async with w.db.uow(readonly=True) as uow:
        requests = (await uow.session.execute(select(func.count()).select_from(ResidentRequest))).scalar_one()
        photos = (await uow.session.execute(select(func.count()).select_from(RequestPhoto))).scalar_one()
        entries = (await uow.session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
    return int(requests), int(photos), int(entries)


async def test_outsiders_neither_see_nor_add_photos(world: World) -> None:
    w = world
    await _setup(w)
    owner = OWNERS["101"]
    sent = w.fake.send_photo(owner, owner, "/report repair 3-2-101 Leak under the sink")
    assert "R1" in await _answer(w, sent)
    before = await _state(w)
    for user in (GRID, OWNERS["102"], OUTSIDER):
        answer = await w.say(user, user, "/order R1")
        assert "There is no work order R1" in (answer.text or "")
        attempt = w.fake.send_photo(user, user, "/photo R1")
        assert "There is no work order R1" in await _answer(w, attempt)
        resolve = w.fake.send_photo(user, user, "/resolve R1 fixed")
        assert "There is no work order R1" in await _answer(w, resolve)
    await asyncio.sleep(0.3)  # anything sent late would show below
    for user in (GRID, OWNERS["102"], OUTSIDER):
        assert _photos(w, user) == []
    assert await _state(w) == before
    # The ones who may see it do: the party's handler and the council, the photo as the resident sent it.
    for user in (PROPERTY, MODERATOR):
        mark = w.fake.last_message(user)
        w.fake.send_text(user, user, "/order R1")
        await w.fake.wait_for(lambda u=user, m=mark: len(_photos(w, u, m.message_id if m else 0)) == 1)  # type: ignore[misc]
        assert _photos(w, user)[-1].photo[-1]["file_id"] == sent.photo[-1]["file_id"]
    # The ledger counts the photo and names none.
    async with w.db.uow(readonly=True) as uow:
        payloads = (await uow.session.execute(select(LedgerEntry.payload).where(
            LedgerEntry.subject == "request:1"))).scalars().all()
    assert json.loads(payloads[0])["photos"] == 1
    assert not any(str(size["file_id"]) in p or str(size["file_unique_id"]) in p
                   for p in payloads for size in sent.photo)


async def test_oversize_and_too_many_photos_change_nothing(world: World) -> None:
    w = world
    await _setup(w)
    owner = OWNERS["101"]
    before = await _state(w)
    big = w.fake.send_photo(owner, owner, "/report repair 3-2 Broken lamp", size=MAX_PHOTO_BYTES + 1)
    assert await _answer(w, big) == "That photo is too large: a photo may be at most 20 MB. Nothing was changed."
    assert await _state(w) == before
    # Exactly 20 MB is what a bot can still download (getFile): accepted.
    ok = w.fake.send_photo(owner, owner, "/report repair 3-2 Broken lamp", size=MAX_PHOTO_BYTES)
    assert "R1" in await _answer(w, ok)
    for _ in range(8):
        more = w.fake.send_photo(owner, owner, "/photo R1")
        assert "Photos added to R1: 1." in await _answer(w, more)
    full = await _state(w)
    assert full[:2] == (1, 9)
    tenth = w.fake.send_photo(owner, owner, "/photo R1")
    assert "at most 9 photos" in await _answer(w, tenth)
    assert await _state(w) == full


async def test_forged_file_ids_are_harmless(world: World) -> None:
    w = world
    await _setup(w)
    owner = OWNERS["101"]
    # A file id Telegram never issued (a forged update): stored as given, it only fails when sent back.
    sent = w.fake.send_photo(owner, owner, "/report repair 3-2 Broken lamp", forged_file_id="AgAC-not-a-real-file")
    assert "R1" in await _answer(w, sent)
    mark = w.fake.last_message(PROPERTY)
    order = w.fake.send_text(PROPERTY, PROPERTY, "/order R1")
    text = await _answer(w, order)
    assert "Broken lamp" in text and "Photos: 1" in text
    async with asyncio.timeout(10):
        while True:
            async with w.db.uow(readonly=True) as uow:
                failed = (await uow.session.execute(select(OutboxMessage.last_error).where(
                    OutboxMessage.status == "failed"))).scalars().all()
            if failed:
                break
            await asyncio.sleep(0.05)
    assert len(failed) == 1 and "wrong file identifier" in (failed[0] or "").lower()
    assert _photos(w, PROPERTY, mark.message_id if mark else 0) == []
    assert not any("Sorry, something went wrong" in (m.text or "") for m in w.fake.messages(PROPERTY))
    # The handler goes on working: nothing was left half done.
    assert "took work order R1" in (await w.say(PROPERTY, PROPERTY, "/take R1")).text
    # An id longer than any the platform issues is refused as unreadable; nothing is stored.
    before = await _state(w)
    long = w.fake.send_photo(owner, owner, "/photo R1", forged_file_id="A" * 300)
    await w.fake.wait_for_message(owner, lambda m: m.from_bot and "could not be read" in (m.text or ""),
                                  after=long.message_id)
    assert await _state(w) == before
