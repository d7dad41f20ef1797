"""The live-message mechanism alone: one edit in flight per message, one more after it, rendered late."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from bot.chat.port import OutMessage
from bot.handlers.live import LiveKind, LiveMessages, Post
from tests.support.chat import Recorder


class SlowRecorder(Recorder):
    """Edits take a while, and how many are in flight at once is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.05)
        await super().edit(chat_id, message_id, message)
        self.in_flight -= 1


KINDS: dict[str, LiveKind] = {}  # what the features would wire; here only the test's "counter"


@pytest.fixture
def counter() -> Iterator[dict[str, int]]:
    """A "counter" kind whose state lives in a dict (the database, for this test)."""
    state = {"value": 0, "renders": 0}

    async def posts(app: Any, ids: list[int], platform: str) -> list[Post]:
        return [Post("counter", i, platform, "-1", str(i), "en") for i in ids]

    async def render(app: Any, post: Post) -> OutMessage:
        state["renders"] += 1
        return OutMessage(f"value {state['value']}")

    async def current(app: Any) -> list[int]:
        return [7]

    KINDS["counter"] = LiveKind("counter", posts, render, current)
    yield state
    KINDS.pop("counter")


async def test_presses_during_an_edit_give_one_more_edit_showing_the_latest(counter: dict[str, int]) -> None:
    messages = LiveMessages(app=None, kinds=KINDS)  # type: ignore[arg-type]
    messenger = SlowRecorder()
    for _press in range(30):
        counter["value"] += 1
        messages.touch("counter", 7, messenger)
        await asyncio.sleep(0.005)  # presses keep coming while the first edit is in flight
    while not messages.idle:
        await asyncio.sleep(0.01)
    texts = [m.text for _chat, _id, m in messenger.edits]
    assert texts[-1] == "value 30"
    assert messenger.most_in_flight == 1
    assert 2 <= len(texts) < 30  # coalesced, not one edit per press
    assert texts == sorted(texts, key=lambda t: int(t.split()[1]))  # never an older state after a newer one


async def test_refresh_waits_for_an_edit_rendered_after_it(counter: dict[str, int]) -> None:
    messages = LiveMessages(app=None, kinds=KINDS)  # type: ignore[arg-type]
    messenger = SlowRecorder()
    counter["value"] = 5
    await messages.refresh("counter", [1, 2], messenger)
    assert sorted((i, m.text) for _c, i, m in messenger.edits) == [("1", "value 5"), ("2", "value 5")]


async def test_start_up_touches_every_current_subject(counter: dict[str, int]) -> None:
    messages = LiveMessages(app=None, kinds=KINDS)  # type: ignore[arg-type]
    messenger = Recorder()
    counter["value"] = 3
    assert await messages.refresh_current(messenger) >= 1
    while not messages.idle:
        await asyncio.sleep(0.01)
    assert [(i, m.text) for _c, i, m in messenger.edits if i == "7"] == [("7", "value 3")]
