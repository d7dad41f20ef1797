"""Photos on residents' requests, fed directly: a photo's caption is the command, only file ids are kept,
the right people see them, and oversize or too many photos are refused with nothing changed."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.chat.port import MAX_PHOTO_BYTES, Chat, IncomingMessage, Photo
from bot.storage import Database
from bot.storage.models import LedgerEntry, RequestPhoto, ResidentRequest
from tests.handlers.test_requests import COUNCIL, GRID, PROPERTY, A, B, Chatter, _sender
from tests.handlers.test_requests import chat as chat  # noqa: F401 - the fixture


def _photo(n: int, size: int = 200_000) -> Photo:
    return Photo(f"AgAC-file-{n}", f"AQAD-{n}", size, 1280, 960)


async def _send(chat: Chatter, user: int, caption: str, *photos: Photo, album: str | None = None) -> list[str]:
    chat.update += 1
    before = len(chat.rec.sent)
    await chat.app.feed(IncomingMessage(chat.update, _sender(user), Chat("telegram", str(user), "private"),
                                        str(chat.update), caption, photos=photos, media_group_id=album), chat.rec)
    return [m.text for c, m in chat.rec.sent[before:] if c == str(user)]


async def _rows(db: Database) -> list[tuple[int, str, str, str, int, int]]:
    async with db.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(RequestPhoto).order_by(RequestPhoto.id))).scalars().all()
    return [(r.request_id, r.stage, r.file_id, r.file_unique_id, r.size, r.member_id) for r in rows]


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.uow(readonly=True) as uow:
        requests = (await uow.session.execute(select(func.count()).select_from(ResidentRequest))).scalar_one()
        photos = (await uow.session.execute(select(func.count()).select_from(RequestPhoto))).scalar_one()
        entries = (await uow.session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
    return int(requests), int(photos), int(entries)


async def test_report_and_resolve_with_photos(chat: Chatter, db: Database) -> None:
    answer = await _send(chat, A, "/report repair 3-2 The stairwell lamp is broken", _photo(1))
    assert "R1" in answer[0] and "Photos attached: 1." in answer[0]
    assert "Photos: 1 (/order R1 shows them)" in chat.inbox(PROPERTY)[-1].text
    rows = await _rows(db)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [(1, "report", "AgAC-file-1", "AQAD-1", 200_000)]
    # The handler's /order shows the report's photo, sent by its file id.
    before = len(chat.rec.photos)
    shown = await chat.say(PROPERTY, "/order R1")
    assert "Photos: 1" in shown[0]
    assert chat.rec.photos[before:] == [(str(PROPERTY), "AgAC-file-1", "R1: photo 1 of 1, the report")]
    # 反映 as a caption works too; a second request without photos has none.
    answer = await _send(chat, B, "反映 repair 3-2 Water in the garage")
    assert "R2" in answer[0] and "Photos attached" not in answer[0]
    # /resolve with a photo: the author gets the notice with the rating buttons, then the photo.
    before = len(chat.rec.photos)
    answer = await _send(chat, PROPERTY, "/resolve R1 Lamp replaced", _photo(2))
    assert "marked solved" in answer[0] and "Photos attached: 1." in answer[0]
    assert "Lamp replaced" in chat.inbox(A)[-1].text
    assert chat.rec.photos[before:] == [(str(A), "AgAC-file-2", "Photo 1 of 1")]
    assert [(r[1], r[2]) for r in await _rows(db)] == [("report", "AgAC-file-1"), ("resolve", "AgAC-file-2")]
    # The council sees both on /order; the ledger counts them and keeps no id.
    before = len(chat.rec.photos)
    await chat.say(COUNCIL, "/order R1")
    assert [p[1] for p in chat.rec.photos[before:]] == ["AgAC-file-1", "AgAC-file-2"]
    async with db.uow(readonly=True) as uow:
        payloads = (await uow.session.execute(select(LedgerEntry.event, LedgerEntry.payload).where(
            LedgerEntry.subject == "request:1").order_by(LedgerEntry.seq))).all()
    assert [(e, json.loads(p).get("photos")) for e, p in payloads] == [
        ("request_reported", 1), ("request_resolve", 1)]
    assert not any("AgAC" in p or "AQAD" in p for _e, p in payloads)


async def test_photo_command_and_albums(chat: Chatter, db: Database) -> None:
    await _send(chat, A, "/report repair 3-2 Broken lamp", _photo(1), album="alb-1")
    # The album's other photos (no caption) join R1 quietly.
    assert await _send(chat, A, "", _photo(2), album="alb-1") == []
    assert await _send(chat, A, "", _photo(3), album="alb-1") == []
    assert [(r[0], r[1], r[2]) for r in await _rows(db)] == [
        (1, "report", "AgAC-file-1"), (1, "report", "AgAC-file-2"), (1, "report", "AgAC-file-3")]
    # Another member's photo in that album id joins nothing.
    service_hint = await _send(chat, B, "", _photo(9), album="alb-1")
    assert "send it with a caption" in service_hint[0]
    # /photo adds more; the same photo twice counts once.
    answer = await _send(chat, A, "/photo R1", _photo(4))
    assert answer == ["Photos added to R1: 1."]
    assert "Photos added to R1: 0." in (await _send(chat, A, "/photo R1", _photo(4)))[0]
    assert "The resident added photos to work order R1" in chat.inbox(PROPERTY)[-1].text
    # A lone photo without a command gets the hint; /photo without a photo, the usage.
    assert "/photo <work order>" in (await _send(chat, A, "", _photo(5)))[0]
    assert "Send the photo with the caption" in (await chat.say(A, "/photo R1"))[0]
    assert len(await _rows(db)) == 4


async def test_refusals_change_nothing(chat: Chatter, db: Database) -> None:
    before = await _counts(db)
    too_big = _photo(1, size=MAX_PHOTO_BYTES + 1)
    answer = await _send(chat, A, "/report repair 3-2 Broken lamp", too_big)
    assert answer == ["That photo is too large: a photo may be at most 20 MB. Nothing was changed."]
    assert await _counts(db) == before
    ten = [_photo(n) for n in range(10)]
    answer = await _send(chat, A, "/report repair 3-2 Broken lamp", *ten)
    assert "at most 9 photos" in answer[0]
    assert await _counts(db) == before
    # Exactly at the limit: nine are fine; a tenth by /photo is refused and nothing is added.
    await _send(chat, A, "/report repair 3-2 Broken lamp", *ten[:9])
    after = await _counts(db)
    assert after[:2] == (1, 9)
    assert "at most 9 photos" in (await _send(chat, A, "/photo R1", _photo(99)))[0]
    assert await _counts(db) == after
    # Someone who may not see the work order learns nothing and adds nothing.
    for user in (B, GRID):
        answer = await _send(chat, user, "/photo R1", _photo(50))
        assert answer == ["There is no work order R1 among the ones you may see. /myreports lists yours."]
        assert "There is no work order R1" in (await chat.say(user, "/order R1"))[0]
    # A resolution with an oversize photo is refused whole: the request stays open.
    answer = await _send(chat, PROPERTY, "/resolve R1 done", too_big)
    assert "too large" in answer[0]
    async with db.uow(readonly=True) as uow:
        row = await uow.session.get(ResidentRequest, 1)
    assert row is not None and row.state == "submitted"
    assert await _counts(db) == after


async def test_a_resolution_album_reaches_the_author(chat: Chatter, db: Database) -> None:
    await chat.say(A, "/report repair 3-2 Broken lamp")
    before = len(chat.rec.photos)
    answer = await _send(chat, PROPERTY, "/resolve R1 Lamp replaced", _photo(1), album="res-1")
    assert "marked solved" in answer[0] and "as they arrive" in answer[0]
    assert await _send(chat, PROPERTY, "", _photo(2), album="res-1") == []
    # The author: the notice with the rating buttons and the first photo, then the album's next one.
    assert chat.rec.photos[before:] == [(str(A), "AgAC-file-1", "Photo 1 of 1"),
                                        (str(A), "AgAC-file-2", "Photo 1 of 1")]
    assert "More photos of the solution of your request R1" in chat.inbox(A)[-1].text
    assert [(r[1], r[2]) for r in await _rows(db)] == [("resolve", "AgAC-file-1"), ("resolve", "AgAC-file-2")]
    # A handler's /photo adds to the solution too; the author is sent it.
    assert "The resident was sent them." in (await _send(chat, PROPERTY, "/photo R1", _photo(3)))[0]
    assert chat.rec.photos[-1] == (str(A), "AgAC-file-3", "Photo 1 of 1")
    async with db.uow(readonly=True) as uow:
        events = (await uow.session.execute(select(LedgerEntry.event, LedgerEntry.payload).where(
            LedgerEntry.subject == "request:1").order_by(LedgerEntry.seq))).all()
    assert [(e, json.loads(p).get("photos"), json.loads(p).get("stage")) for e, p in events] == [
        ("request_reported", None, None), ("request_resolve", 1, None), ("request_photos", 1, "resolve"),
        ("request_photos", 1, "resolve")]
