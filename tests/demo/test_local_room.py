"""The local room's server side: sample community, rooms, personas, and data kept between starts."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.demo.conftest import Room


async def _reply(room: Room, user: int, chat: int, text: str) -> str:
    sent = await room.post("/_fake/send_text", {"user_id": user, "chat_id": chat, "text": text})
    after = sent["result"]["message_id"]
    for _ in range(100):
        messages = (await room.get(f"/_fake/chats/{chat}/messages?after={after}"))["result"]
        bot = [m for m in messages if m.get("from_bot")]
        if bot:
            return bot[0]["text"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no reply to {text!r}")


@pytest.mark.parametrize("transport", ["aiogram", "ptb"])
async def test_local_room_runs_the_real_bot(room_factory, transport: str) -> None:
    async with room_factory(transport=transport) as room:
        state = (await room.get("/demo/state?lang=en"))["result"]
        personas = {p["name"]: p for p in state["personas"]}
        assert {"Auntie Wang", "Ms Liu", "Director Zhao", "Mr Sun"} <= personas.keys()
        assert len(state["rooms"]) == 12 and state["ui"]["send"] == "Send"
        assert personas["Ms Liu"]["code"] is None and personas["Auntie Wang"]["code"]
        assert len(personas["Director Zhao"]["rooms"]) == 12 and len(personas["Mr Chen"]["rooms"]) == 2
        wang = personas["Auntie Wang"]
        reply = await _reply(room, wang["id"], wang["id"], f"/register {wang['code']}")
        assert "3-2-101" in reply and "业主" in reply  # Chinese by default
        await room.post("/demo/lang", {"lang": "en"})
        unit_room = next(r["chat_id"] for r in state["rooms"] if r["scope"] == "3-2")
        card = await _reply(room, wang["id"], unit_room, "/propose elevator: Elevator for 3-2")
        assert card.startswith("#1") and "1/5" in card


async def test_data_stays_for_the_next_start_and_fresh_starts_over(room_factory) -> None:
    async with room_factory() as room:
        codes = json.loads((room.data_dir / "codes.json").read_text(encoding="utf-8"))
        state = (await room.get("/demo/state?lang=en"))["result"]
        wang = next(p for p in state["personas"] if p["name"] == "Auntie Wang")
        await _reply(room, wang["id"], wang["id"], f"/register {wang['code']}")
    async with room_factory() as room:
        assert json.loads((room.data_dir / "codes.json").read_text(encoding="utf-8")) == codes
        assert "3-2-101" in await _reply(room, wang["id"], wang["id"], "/me")
    async with room_factory(fresh=True) as room:
        assert json.loads((room.data_dir / "codes.json").read_text(encoding="utf-8")) != codes
        assert "3-2-101" not in await _reply(room, wang["id"], wang["id"], "/me")


def test_the_page_needs_nothing_from_the_internet() -> None:
    from bot.demo import STATIC

    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        for marker in ("<link rel=\"stylesheet\" href=\"http", "src=\"http", "@import url(http", "fonts.g"):
            assert marker not in text, f"{path.name} loads {marker!r} from outside"
