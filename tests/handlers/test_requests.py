"""Residents' requests in the chat, fed directly: report, route, handle, rate, privacy and bad input."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.chat.port import ButtonPress, Chat, IncomingMessage, OutMessage, Sender
from bot.handlers.app import Yishi
from bot.i18n import Translator
from bot.services import requests as service
from bot.services.census import issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.storage import Database
from bot.storage.models import LedgerEntry, ResidentRequest
from tests.handlers.test_app import Recorder

COUNCIL = 9000
PROPERTY = 7001  # handler of the property company
BOSS = 7002  # its supervisor
GRID = 7101  # handler of the grid worker party
WATER = 7201  # handler of the water department
STREET = 7301  # the street office
A, B, C = 1, 2, 3  # residents of 3-2-101, 3-2-102, 3-2-201
STRANGER = 4  # registered nowhere


def _sender(user: int) -> Sender:
    return Sender("telegram", str(user), f"User {user}", "en")


class Chatter:
    def __init__(self, app: Yishi, recorder: Recorder) -> None:
        self.app, self.rec, self.update = app, recorder, 1000

    async def say(self, user: int, body: str) -> list[str]:
        """What the user sent in private; returns the texts the bot sent to that user's chat."""
        self.update += 1
        before = len(self.rec.sent)
        await self.app.feed(IncomingMessage(self.update, _sender(user), Chat("telegram", str(user), "private"),
                                            str(self.update), body), self.rec)
        return [m.text for chat, m in self.rec.sent[before:] if chat == str(user)]

    def inbox(self, user: int) -> list[OutMessage]:
        return [m for chat, m in self.rec.sent if chat == str(user)]

    async def press(self, user: int, data: str, buttons: tuple[str, ...] | None = None) -> str:
        self.update += 1
        before = len(self.rec.toasts)
        chat = Chat("telegram", str(user), "private")
        await self.app.feed(ButtonPress(self.update, _sender(user), chat, "5", f"q{self.update}", data,
                                        buttons if buttons is not None else (data,)), self.rec)
        return self.rec.toasts[before][0] if len(self.rec.toasts) > before else ""


@pytest.fixture
async def chat(db: Database, community: str) -> Chatter:
    codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, community, "3-2")}
    for user, room in ((A, "101"), (B, "102"), (C, "201")):
        await redeem_code(db, "telegram", str(user), codes[f"3-2-{room}"], f"User {user}")
    await add_council_member(db, community, "telegram", str(COUNCIL))
    await service.configure(db, community, parties=[("PropertyCo", "property"), ("Grid", "grid"),
                                                     ("Water", "department"), ("Street", "street")],
                            routes=[("repair", "PropertyCo"), ("noise", "Grid")], street="Street")
    await service.add_handler(db, community, "telegram", str(PROPERTY), "PropertyCo")
    await service.add_handler(db, community, "telegram", str(BOSS), "PropertyCo", supervisor=True)
    await service.add_handler(db, community, "telegram", str(GRID), "Grid")
    await service.add_handler(db, community, "telegram", str(WATER), "Water")
    await service.add_handler(db, community, "telegram", str(STREET), "Street")
    app = Yishi(db, Translator("en"), ZoneInfo("Asia/Shanghai"), ballot_edit_interval=0)
    return Chatter(app, Recorder())


async def _requests(db: Database) -> int:
    async with db.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(ResidentRequest))).scalar_one())


async def _events(db: Database) -> list[str]:
    async with db.uow(readonly=True) as uow:
        rows = await uow.session.execute(select(LedgerEntry.event).where(LedgerEntry.subject == "request:1")
                                         .order_by(LedgerEntry.seq))
        return list(rows.scalars())


async def test_a_request_from_report_to_rating(chat: Chatter, db: Database) -> None:
    answer = await chat.say(A, "/report repair 3-2 The stairwell lamp on floor 2 is broken")
    assert "R1" in answer[0] and "A first response is due by" in answer[0]
    # Routed by its category to the property company: its handlers hear of it, with who and where.
    told = chat.inbox(PROPERTY)[-1].text
    assert "New request" in told and "R1" in told and "User 1" in told and "stairwell lamp" in told
    assert chat.inbox(GRID) == [] and chat.inbox(WATER) == []
    assert "R1" in (await chat.say(A, "/myreports"))[0]

    assert "took work order R1" in (await chat.say(PROPERTY, "/take R1"))[0]
    assert "taken by PropertyCo" in chat.inbox(A)[-1].text
    await chat.say(PROPERTY, "/reply 1 An electrician comes tomorrow")
    assert "An electrician comes tomorrow" in chat.inbox(A)[-1].text
    # 吹哨: the water department is called; its handlers and the street level are told.
    answer = await chat.say(PROPERTY, "/whistle R1 Water The pipe behind the lamp leaks")
    assert "Whistle blown" in answer[0]
    assert "R1" in chat.inbox(WATER)[-1].text and "pipe behind the lamp" in chat.inbox(WATER)[-1].text
    assert "R1" in chat.inbox(STREET)[-1].text
    # The property company no longer sees it.
    assert "There is no work order R1" in (await chat.say(PROPERTY, "/resolve R1 done"))[0]
    await chat.say(WATER, "/resolve R1 Pipe and lamp replaced")
    rate = chat.inbox(A)[-1]
    assert "Pipe and lamp replaced" in rate.text
    buttons = tuple(a.data or "" for row in rate.actions for a in row)
    assert buttons == ("v1:rq:1:s", "v1:rq:1:b", "v1:rq:1:u")

    # 不满意 asks for the reason; the reason reopens it (once), its handlers are told why.
    assert "what is still wrong" in (await chat.press(A, "v1:rq:1:u", buttons)).lower()
    await chat.say(A, "/reopen R1 The lamp flickers again")
    assert "flickers again" in chat.inbox(WATER)[-1].text
    await chat.say(WATER, "/resolve R1 New fitting installed")
    assert "Thank you" in await chat.press(A, "v1:rq:1:s", buttons)
    async with db.uow(readonly=True) as uow:
        request = await uow.session.get(ResidentRequest, 1)
    assert request is not None
    assert (request.state, request.rating, request.reopened, request.whistled) == ("closed", "satisfied", 1, True)
    assert await _events(db) == [
        "request_reported", "request_take", "request_reply", "request_whistle", "request_resolve",
        "request_reopened", "request_resolve", "request_rated"]
    async with db.uow(readonly=True) as uow:
        payloads = (await uow.session.execute(select(LedgerEntry.payload).where(
            LedgerEntry.event.like("request%")))).scalars().all()  # type: ignore[attr-defined]
    # The ledger carries who acted and the states, never the text or the place.
    assert not any("lamp" in p or "3-2" in json.loads(p).get("location", "") for p in payloads)
    assert "closed, satisfied" in (await chat.say(A, "/myreports"))[0]


async def test_the_keyword_reports_too(chat: Chatter, db: Database) -> None:
    answer = await chat.say(B, "\u53cd\u6620 noise 3-2-102 urgent Drilling at midnight")
    assert "R1" in answer[0]
    async with db.uow(readonly=True) as uow:
        request = await uow.session.get(ResidentRequest, 1)
    assert request is not None and request.urgent and request.category == "noise"
    assert (request.response_due - request.reported_at).total_seconds() == 2 * 3600
    assert "Drilling at midnight" in chat.inbox(GRID)[-1].text


@pytest.mark.parametrize("body, expected", [
    ("/report repair 3-2", "Usage: /report <category> <where>"),
    ("/report teleport 3-2 Something broke", "There is no category teleport here."),
    ("/report repair 9-9-909 The lamp", "There is no home 9-9-909 in the census."),
    ("/report repair 3-2 \u200b\u200b", "Please say what happened"),
    ("/report repair 3-2 " + "x" * 1001, "Please say what happened (at most 1000 characters)."),
])
async def test_bad_reports_change_nothing(chat: Chatter, db: Database, body: str, expected: str) -> None:
    answer = await chat.say(A, body)
    assert expected in answer[0]
    assert await _requests(db) == 0


async def test_an_unregistered_member_cannot_report(chat: Chatter, db: Database) -> None:
    assert "Register first" in (await chat.say(STRANGER, "/report repair 3-2 Lamp broken"))[0]
    assert await _requests(db) == 0


async def test_privacy_and_rights(chat: Chatter, db: Database) -> None:
    await chat.say(A, "/report repair 3-2-101 Water in my kitchen ceiling")
    # Another party's handler, another resident and a stranger do not see it, not even that it exists.
    for user in (GRID, B, STRANGER):
        assert "There is no work order R1" in (await chat.say(user, "/order R1"))[0]
    assert await chat.say(GRID, "/queue") == ["No open requests for your party."]
    # The author sees it without their own name repeated; the handler and the council see who reported it.
    assert "User 1" not in (await chat.say(A, "/order R1"))[0]
    assert "User 1" in (await chat.say(PROPERTY, "/order R1"))[0]
    assert "User 1" in (await chat.say(COUNCIL, "/order R1"))[0]
    assert "R1" in (await chat.say(PROPERTY, "/queue"))[0]
    # The author cannot resolve their own request; the council cannot handle a routed one.
    assert "Only a handler" in (await chat.say(A, "/resolve R1 fixed it myself"))[0]
    assert "Only a handler" in (await chat.say(COUNCIL, "/take R1"))[0]
    assert "There is no party Nobody" in (await chat.say(PROPERTY, "/transfer R1 Nobody because"))[0]
    assert "already with that party" in (await chat.say(PROPERTY, "/transfer R1 PropertyCo because"))[0]
    # A handler of another party cannot transfer it to themselves.
    assert "There is no work order R1" in (await chat.say(GRID, "/transfer R1 Grid mine now"))[0]
    # Nobody but the author rates, and a request not yet resolved cannot be rated.
    await chat.say(PROPERTY, "/resolve R1 Roof sealed")
    assert "Only the resident who reported" in await chat.press(PROPERTY, "v1:rq:1:s")
    assert "There is no work order R1" in await chat.press(B, "v1:rq:1:s")
    assert "There is no work order R7" in (await chat.say(A, "/reopen R7 still wet"))[0]
    assert "work order number" in (await chat.say(PROPERTY, "/take seven"))[0]
    async with db.uow(readonly=True) as uow:
        request = await uow.session.get(ResidentRequest, 1)
    assert request is not None and request.state == "resolved" and request.party_id is not None
    assert await _events(db) == ["request_reported", "request_resolve"]
    # A whistle names a department, not any party.
    await chat.say(A, "/report repair 3-2 Broken door")
    assert "Not possible now: the work order is waiting for a response" in await chat.press(A, "v1:rq:2:s")
    assert "A whistle calls a department" in (await chat.say(PROPERTY, "/whistle R2 Grid no time"))[0]
    # Handler commands belong in private.
    group = Chat("telegram", "-100", "group", "3-2")
    chat.update += 1
    await chat.app.feed(IncomingMessage(chat.update, _sender(PROPERTY), group, "9", "/take R2"), chat.rec)
    assert "private chat" in chat.rec.sent[-1][1].text


async def test_an_unrouted_category_goes_to_the_council(chat: Chatter, db: Database) -> None:
    await chat.say(C, "/report parking all Cars block the fire lane")
    assert "Cars block the fire lane" in chat.inbox(COUNCIL)[-1].text
    assert "transferred to Grid" in (await chat.say(COUNCIL, "/transfer R1 Grid grid worker patrols"))[0]
    assert "R1" in chat.inbox(GRID)[-1].text
