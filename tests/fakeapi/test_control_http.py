"""The raw HTTP surface: request encodings, the /_fake control endpoints and the event long-poll."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.fakeapi import FakeTelegram

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST-token"
ALICE = 1001


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram.running() as server:
        server.add_bot(TOKEN, "yishi_bot")
        yield server


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def control(http: aiohttp.ClientSession, fake: FakeTelegram, path: str, body: Any = None) -> Any:
    method = "GET" if body is None else "POST"
    async with http.request(method, f"{fake.base_url}/_fake/{path}", json=body) as response:
        payload = await response.json()
    assert payload["ok"], payload
    return payload["result"]


async def test_every_request_encoding_is_accepted(fake: FakeTelegram, http: aiohttp.ClientSession) -> None:
    fake.add_user(ALICE, "Alice")
    fake.send_text(ALICE, ALICE, "hi")
    url = f"{fake.base_url}/bot{TOKEN}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}

    async with http.post(url, json={"chat_id": ALICE, "text": "json", "reply_markup": markup}) as response:
        assert (await response.json())["result"]["reply_markup"] == markup
    form = {
        "chat_id": str(ALICE),
        "text": "form",
        "reply_markup": json.dumps(markup),
        "disable_notification": "true",
    }
    async with http.post(url, data=form) as response:
        assert (await response.json())["result"]["text"] == "form"
    multipart = aiohttp.FormData(form)
    multipart.add_field("thumbnail", b"\x00\x01", filename="ignored.bin")  # forces multipart/form-data
    async with http.post(url, data=multipart) as response:
        assert (await response.json())["result"]["text"] == "form"
    async with http.get(url, params={"chat_id": ALICE, "text": "query string"}) as response:
        assert response.status == 200
    async with http.post(url, data=b"{not json", headers={"Content-Type": "application/json"}) as response:
        assert (response.status, (await response.json())["description"]) == (
            400,
            "Bad Request: can't parse JSON object",
        )
    assert [m.text for m in fake.messages(ALICE)] == ["hi", "json", "form", "form", "query string"]
    assert fake.stats.bytes_in > 0 and fake.stats.bytes_out > 0


async def test_control_endpoints_play_the_residents(fake: FakeTelegram, http: aiohttp.ClientSession) -> None:
    await control(http, fake, "users", {"id": ALICE, "first_name": "Alice", "language_code": "en"})
    await control(http, fake, "users", {"id": 1002, "first_name": "Bob"})
    group = await control(
        http,
        fake,
        "chats",
        {"type": "group", "id": -100, "title": "Club", "creator": ALICE, "members": [1002]},
    )
    assert group["members"] == {"123456": "member", "1001": "creator", "1002": "member"}

    sent = await control(http, fake, "send_text", {"user_id": 1002, "chat_id": -100, "text": "/vote"})
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 5}]
    status, body = await fake.call_api(
        TOKEN,
        "sendMessage",
        {
            "chat_id": -100,
            "text": "Vote?",
            "reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]},
        },
    )
    assert status == 200
    pressed = await control(
        http,
        fake,
        "press_button",
        {"user_id": 1002, "chat_id": -100, "message_id": body["result"]["message_id"], "callback_data": "y"},
    )
    query_id = pressed["callback_query_id"]
    assert await control(http, fake, f"callback_answers/{query_id}") is None
    await fake.call_api(TOKEN, "answerCallbackQuery", {"callback_query_id": query_id, "text": "Counted"})
    answer = await control(http, fake, f"callback_answers/{query_id}?timeout=1")
    assert answer["text"] == "Counted"

    messages = await control(http, fake, "chats/-100/messages")
    assert [(m["text"], m["from_bot"]) for m in messages] == [("/vote", False), ("Vote?", True)]
    assert [m["text"] for m in await control(http, fake, "chats/-100/messages?after=1")] == ["Vote?"]

    await control(http, fake, "block", {"user_id": ALICE})
    assert (await fake.call_api(TOKEN, "sendMessage", {"chat_id": ALICE, "text": "x"}))[0] == 403
    await control(http, fake, "unblock", {"user_id": ALICE})
    await control(http, fake, "migrate", {"old_chat_id": -100, "new_chat_id": -1009})
    status, body = await fake.call_api(TOKEN, "sendMessage", {"chat_id": -100, "text": "x"})
    assert (status, body["parameters"]) == (400, {"migrate_to_chat_id": -1009})

    await control(http, fake, "inject_retry_after", {"retry_after": 4, "count": 1, "methods": ["getMe"]})
    status, body = await fake.call_api(TOKEN, "getMe", {})
    assert (status, body["description"], body["parameters"]) == (
        429,
        "Too Many Requests: retry after 4",
        {"retry_after": 4},
    )

    stats = await control(http, fake, "stats")
    assert stats["too_many_requests"] == 1 and stats["calls"]["sendMessage"] == 3
    state = await control(http, fake, "state")
    assert {c["id"] for c in state["chats"]} == {-100, -1009, ALICE}
    assert len(await control(http, fake, f"bots/{TOKEN}/updates")) > 0

    async with http.post(
        f"{fake.base_url}/_fake/send_text", json={"user_id": 42, "chat_id": 42, "text": "x"}
    ) as r:
        assert (r.status, (await r.json())["description"]) == (404, "unknown user 42")


async def test_events_long_poll_wakes_on_new_activity(
    fake: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    fake.add_user(ALICE, "Alice")
    fake.send_text(ALICE, ALICE, "hi")
    first = await control(http, fake, "events?since=0&timeout=0")
    assert [e["type"] for e in first["events"]] == ["chat", "message"]

    since = first["last_id"]
    waiting = asyncio.create_task(control(http, fake, f"events?since={since}&timeout=10"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await fake.call_api(TOKEN, "sendMessage", {"chat_id": ALICE, "text": "reply"})
    result = await asyncio.wait_for(waiting, 2)
    assert [(e["type"], e["message"]["text"]) for e in result["events"]] == [("message", "reply")]
    assert result["events"][0]["message"]["from_bot"] is True


async def test_user_edits_and_waiting_helpers(fake: FakeTelegram) -> None:
    fake.add_user(ALICE, "Alice")
    sent = fake.send_text(ALICE, ALICE, "teh vote")
    fake.edit_text(ALICE, ALICE, sent.message_id, "the vote")
    kinds = [next(k for k in u if k != "update_id") for u in fake.pending_updates()]
    assert kinds == ["message", "edited_message"]
    assert fake.message(ALICE, sent.message_id).edit_history == ["teh vote"]

    with pytest.raises(TimeoutError, match="no matching message"):
        await fake.wait_for_message(ALICE, timeout=0.05)
    waiter = asyncio.create_task(fake.wait_for_message(ALICE, lambda m: m.text == "later"))
    await asyncio.sleep(0)
    await fake.call_api(TOKEN, "sendMessage", {"chat_id": ALICE, "text": "later"})
    assert (await asyncio.wait_for(waiter, 1)).from_bot
    assert fake.chat_version(ALICE) == 3


async def test_a_bot_of_an_earlier_fake_on_the_same_port_is_not_served(
    fake: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    """A bot left running by an earlier test whose port this fake now has must not edit this fake's chats."""
    fake.add_user(ALICE, "Alice")
    fake.send_text(ALICE, ALICE, "hi")
    body = {"chat_id": ALICE, "text": "from this fake's bot"}
    async with http.post(f"{fake.api_base}/bot{TOKEN}/sendMessage", json=body) as response:
        assert response.status == 200 and (await response.json())["ok"]
    stray = f"{fake.base_url}/i/000000000000/bot{TOKEN}/sendMessage"
    async with http.post(stray, json={"chat_id": ALICE, "text": "stray"}) as response:
        assert response.status == 404 and (await response.json())["ok"] is False
    assert [m.text for m in fake.messages(ALICE)] == ["hi", "from this fake's bot"]
