"""Photos on residents' requests end to end, on aiogram and on python-telegram-bot, through the fake Bot API.

A resident reports with a photo (the caption is the command) and adds an album; the handler sees the photos
on /order (sent again by their file id: Yishi never holds the bytes), resolves with a photo the author then
receives; a neighbour sees none of it.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.fakeapi.server import StoredMessage
from bot.storage.models import RequestPhoto
from tests.e2e.conftest import OWNERS, World
from tests.e2e.test_requests import HANDLER, _said, _setup


def _photos(w: World, chat: int, after: int = 0) -> list[StoredMessage]:
    return [m for m in w.fake.messages(chat) if m.from_bot and m.photo and m.message_id > after]


def _biggest(message: StoredMessage) -> str:
    return str(message.photo[-1]["file_id"])


async def test_photos_reported_shown_and_resolved(world: World) -> None:
    w = world
    await _setup(w)
    owner = OWNERS["101"]
    sent = w.fake.send_photo(owner, owner, "/report repair 3-2 The stairwell lamp is broken", size=2_400_000)
    received = await w.fake.wait_for_message(owner, lambda m: m.from_bot, after=sent.message_id)
    assert "R1" in (received.text or "") and "Photos attached: 1." in (received.text or "")
    assert "Photos: 1 (/order R1 shows them)" in await _said(w, HANDLER, "New request")
    # Only the file ids are stored: the largest size Telegram reported, with its size in bytes.
    async with w.db.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(RequestPhoto))).scalars().all()
    assert [(r.request_id, r.stage, r.file_id, r.size) for r in rows] == [(1, "report", _biggest(sent), 2_400_000)]

    # An album: the caption rides on the first photo; the others join the same work order.
    first = w.fake.send_photo(owner, owner, "/photo R1", media_group_id="9001")
    second = w.fake.send_photo(owner, owner, None, media_group_id="9001")
    await w.fake.wait_for_message(owner, lambda m: m.from_bot and "as they arrive" in (m.text or ""),
                                  after=first.message_id)
    ids: list[str] = []
    for _ in range(200):
        async with w.db.uow(readonly=True) as uow:
            ids = list((await uow.session.execute(select(RequestPhoto.file_id).order_by(RequestPhoto.id))).scalars())
        if len(ids) == 3:
            break
        await asyncio.sleep(0.05)
    assert ids == [_biggest(sent), _biggest(first), _biggest(second)]
    # The handler was sent each added photo as it came (the two are handled at once: in either order).
    await w.fake.wait_for(lambda: sorted(_biggest(m) for m in _photos(w, HANDLER)) == sorted(ids[1:]), timeout=15)

    # The handler's /order shows all three, by file id, after the work order's text.
    mark = w.fake.last_message(HANDLER)
    sent_order = w.fake.send_text(HANDLER, HANDLER, "/order R1")
    await w.fake.wait_for_message(HANDLER, lambda m: m.from_bot and "Photos: 3" in (m.text or ""),
                                  after=sent_order.message_id)
    await w.fake.wait_for(lambda: len(_photos(w, HANDLER, mark.message_id if mark else 0)) == 3)
    shown = _photos(w, HANDLER, mark.message_id if mark else 0)
    assert [_biggest(m) for m in shown] == list(ids)
    assert [m.caption for m in shown] == [f"R1: photo {n} of 3, the report" for n in (1, 2, 3)]

    # Resolved with a photo: the author gets the rating buttons, then the photo itself.
    mark_owner = w.fake.last_message(owner)
    proof = w.fake.send_photo(HANDLER, HANDLER, "/resolve R1 Lamp replaced")
    await w.fake.wait_for_message(HANDLER, lambda m: m.from_bot and "marked solved" in (m.text or ""),
                                  after=proof.message_id)
    await w.fake.wait_for(lambda: len(_photos(w, owner, mark_owner.message_id if mark_owner else 0)) == 1)
    got = _photos(w, owner, mark_owner.message_id if mark_owner else 0)[0]
    assert _biggest(got) == _biggest(proof) and got.caption == "Photo 1 of 1"
    rate = await w.fake.wait_for_message(owner, lambda m: m.from_bot and "Lamp replaced" in (m.text or ""))
    assert rate.callback_data == ["v1:rq:1:s", "v1:rq:1:b", "v1:rq:1:u"]

    # A neighbour asking sees no text and no photo.
    neighbour = OWNERS["102"]
    answer = await w.say(neighbour, neighbour, "/order R1")
    assert "There is no work order R1" in (answer.text or "")
    assert _photos(w, neighbour) == []
