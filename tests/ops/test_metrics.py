"""/healthz and /metrics over real HTTP: a whole runtime on the fake Bot API, and the web server alone."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import load_settings
from bot.fakeapi import FakeTelegram
from bot.i18n import Translator
from bot.outbox import enqueue_text
from bot.runtime import serve
from bot.storage import Database
from bot.web import WebServer

TOKEN = "777:ops-token"
USER = 4100


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text (0 when the series is absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


@dataclass
class Running:
    url: str
    fake: FakeTelegram
    transport: str

    async def metrics(self) -> str:
        status, _, body = await get(self.url + "/metrics")
        assert status == 200
        return body

    def handled(self, body: str) -> float:
        return sample(body, "yishi_updates_total", transport=self.transport, outcome="handled")

    def replies(self) -> int:
        return sum(1 for m in self.fake.messages(USER) if m.from_bot)


@pytest.fixture(params=["aiogram", "ptb"])
async def running(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[Running]:
    async with FakeTelegram.running() as fake:
        fake.add_bot(TOKEN, "yishi_bot")
        fake.add_user(USER, "Operator Wu", language_code="en")
        fake.add_private_chat(USER)
        settings = load_settings(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.api_base, TRANSPORT=request.param,
                                 DATABASE_URL=db.url, WEB_PORT=0, SCHEDULER_ENABLED=False,
                                 OUTBOX_CHAT_PER_SECOND=0, OUTBOX_GROUP_PER_MINUTE=0)
        stop, ready = asyncio.Event(), asyncio.Event()
        urls: list[str] = []
        task = asyncio.create_task(serve(settings, stop=stop, ready=ready, on_web=urls.append))
        try:
            async with asyncio.timeout(90):  # a loaded machine (xdist workers) is slow to start a runtime
                await ready.wait()
            yield Running(urls[0], fake, request.param)
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)


async def _until(check: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_healthz_and_metrics_move_with_an_update_and_a_429(running: Running) -> None:
    status, kind, body = await get(running.url + "/healthz")
    assert status == 200 and kind.startswith("application/json")
    assert __import__("json").loads(body) == {"status": "ok", "database": "reachable", "scheduler_leader": "unknown"}

    before = await running.metrics()
    handled, count = running.handled(before), sample(before, "yishi_update_handling_seconds_count",
                                                     transport=running.transport)
    retries = sample(before, "yishi_outbox_retry_after_total")

    running.fake.send_text(USER, USER, "/help")
    await running.fake.wait_for(lambda: running.replies() == 1, 10)

    async def one_more() -> bool:
        return running.handled(await running.metrics()) == handled + 1
    await _until(one_more)
    after = await running.metrics()
    assert sample(after, "yishi_update_handling_seconds_count", transport=running.transport) == count + 1
    assert sample(after, "yishi_outbox_retry_after_total") == retries

    # Telegram answers the next reply with 429: the outbox waits the second it was told and counts it.
    running.fake.inject_retry_after(1, count=1, chat_id=USER, methods=["sendMessage"])
    running.fake.send_text(USER, USER, "/help")
    await running.fake.wait_for(lambda: running.replies() == 2, 15)

    async def two_more() -> bool:
        return running.handled(await running.metrics()) == handled + 2
    await _until(two_more)
    final = await running.metrics()
    assert sample(final, "yishi_outbox_retry_after_total") == retries + 1
    assert sample(final, "yishi_updates_total", transport=running.transport, outcome="failed") == sample(
        before, "yishi_updates_total", transport=running.transport, outcome="failed")
    # No chat id, user id or name in what an operator scrapes.
    assert str(USER) not in final and "Operator" not in final


async def test_metrics_count_the_queued_outbox_by_kind_at_scrape_time(db: Database) -> None:
    async with db.uow() as uow:
        for i in range(3):
            await enqueue_text(uow, platform="telegram", chat_id=str(10 + i), text="hi", dedupe_key=f"digest:{i}")
        await enqueue_text(uow, platform="telegram", chat_id="20", text="hi", dedupe_key="nudge:7:2026-12-03")
    server = WebServer(db, Translator("zh_CN"), __import__("zoneinfo").ZoneInfo("Asia/Shanghai"), "127.0.0.1", 0,
                       leader=lambda: True)
    url = await server.start()
    try:
        status, kind, body = await get(url + "/metrics")
        assert status == 200 and kind.startswith("text/plain")
        assert sample(body, "yishi_outbox_queued", kind="digest") == 3
        assert sample(body, "yishi_outbox_queued", kind="nudge") == 1
        async with db.uow() as uow:  # delivered (here: marked sent by hand): the next scrape sees it
            from sqlalchemy import update

            from bot.storage.models import OutboxMessage
            await uow.session.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key == "nudge:7:2026-12-03")
                                      .values(status="sent"))
        body = (await get(url + "/metrics"))[2]
        assert sample(body, "yishi_outbox_queued", kind="digest") == 3
        assert "yishi_outbox_queued{kind=\"nudge\"}" not in body
        assert __import__("json").loads((await get(url + "/healthz"))[2])["scheduler_leader"] == "this process"
    finally:
        await server.stop()


def _closed_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_healthz_is_503_when_the_database_is_unreachable(db: Database) -> None:
    gone = Database(f"postgresql+asyncpg://yishi:x@127.0.0.1:{_closed_port()}/yishi", keys=db.keys)
    server = WebServer(gone, Translator("zh_CN"), __import__("zoneinfo").ZoneInfo("Asia/Shanghai"), "127.0.0.1", 0,
                       leader=lambda: False)
    url = await server.start()
    try:
        status, _, body = await get(url + "/healthz")
        assert status == 503
        assert __import__("json").loads(body) == {"status": "unavailable", "database": "unreachable",
                                                  "scheduler_leader": "another process"}
        status, _, body = await get(url + "/metrics")  # counters still served; the queue gauge is absent
        assert status == 200 and "yishi_updates_total" in body and 'yishi_outbox_queued{' not in body
    finally:
        await server.stop()
        await gone.dispose()


async def test_the_handlers_say_what_became_of_an_update(db: Database, community: str) -> None:
    from zoneinfo import ZoneInfo

    from bot.chat.port import Chat, IncomingMessage, Sender
    from bot.handlers.app import Yishi
    from tests.support.chat import Recorder

    app = Yishi(db, Translator("en"), ZoneInfo("Asia/Shanghai"))
    event = IncomingMessage(77, Sender("telegram", "5", "Resident Sun", "en"), Chat("telegram", "5", "private"),
                            "1", "/help")
    messenger = Recorder()
    try:
        assert await app.feed(event, messenger) == "handled"
        assert await app.feed(event, messenger) == "duplicate"  # a redelivery: handled once
    finally:
        await app.close()
