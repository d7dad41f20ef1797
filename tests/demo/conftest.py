"""A running local room (`yishi demo`) inside the test, on a free port and a scratch data folder."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.config import load_settings
from bot.demo import run_demo


@dataclass
class Room:
    url: str
    data_dir: Path
    http: aiohttp.ClientSession

    async def get(self, path: str) -> dict:
        async with self.http.get(self.url + path) as response:
            return await response.json()

    async def post(self, path: str, body: dict) -> dict:
        async with self.http.post(self.url + path, json=body) as response:
            return await response.json()


@asynccontextmanager
async def local_room(data_dir: Path, transport: str = "aiogram", fresh: bool = False) -> AsyncIterator[Room]:
    lines: list[str] = []
    ready, stop = asyncio.Event(), asyncio.Event()
    settings = load_settings(BOT_TOKEN="", DEFAULT_LOCALE="zh_CN")
    task = asyncio.create_task(run_demo(settings, transport=transport, port=0, fresh=fresh, data_dir=data_dir,
                                        stop=stop, announce=lines.append, ready=ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        await task
    assert ready.is_set(), "the local room did not start"
    match = re.search(r"(http://127\.0\.0\.1:\d+)/", lines[0])
    assert match is not None, lines
    async with aiohttp.ClientSession() as http:
        try:
            yield Room(match.group(1), data_dir, http)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


@pytest.fixture
def room_factory(tmp_path: Path) -> Callable[..., object]:
    return lambda **kwargs: local_room(tmp_path / "demo", **kwargs)
