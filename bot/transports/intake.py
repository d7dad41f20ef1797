"""Receiving updates, the same way on both runtimes: stored first, confirmed second, handled third.

Telegram forgets an update once the bot confirms it: by asking getUpdates for a later offset, or by
answering a webhook POST with 2xx. The frameworks' own loops confirm a batch before the bot has
handled it, so a crash lost it. Here a runtime only fetches and parses (through its own client);
the batch is written to the inbox (``bot.storage.inbox``) before the next getUpdates confirms it,
and a webhook answers 200 only after the row is written. Handling then claims the row (exactly
once), and at start-up whatever was stored but not handled is handled, and presses a dead process
recorded but may not have answered get a confirmation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from bot.chat.port import Event, EventSink, Messenger
from bot.storage.inbox import Inbox, bot_key
from bot.tasks import cancel_and_wait, wait_event
from bot.transports import DRAIN_TIMEOUT, MAX_CONCURRENT_UPDATES, POLL_TIMEOUT, feed_safely, secret_matches

log = logging.getLogger(__name__)

SWEEP_EVERY = 30.0  # seconds between looks for updates a dead or stuck process left
PURGE_EVERY = 3600.0  # seconds between purges of handled updates past Telegram's window
RETRY_DELAY = 1.0  # seconds, doubled up to 30, after a failed getUpdates or a failed store


@dataclass(frozen=True, slots=True)
class Received:
    """One update as fetched: its id, its JSON exactly as stored, and the neutral event (None: ignored)."""

    update_id: int
    raw: str
    event: Event | None


Fetch = Callable[[int | None, int], Awaitable[Sequence[Received]]]
Decode = Callable[[str], Event | None]


class Intake:
    """Shared by both runtimes; the runtime gives it a way to fetch and a way to parse."""

    def __init__(self, sink: EventSink, messenger: Messenger, decode: Decode, platform: str,
                 token: str | None, transport: str = "") -> None:
        self.sink = sink
        self.transport = transport  # aiogram or ptb: the label of its updates in /metrics
        self.messenger = messenger
        self.decode = decode
        # A sink without an inbox (tests of the adapters alone) is fed directly.
        inbox = getattr(sink, "inbox", None)
        self.inbox: Inbox | None = inbox if isinstance(inbox, Inbox) else None
        if self.inbox is not None:
            self.inbox.bot = bot_key(platform, token)
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_UPDATES)
        self._closing = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> asyncio.Task[None] | None:
        """Start-up: handle what was stored and not handled, confirm unanswered presses; then keep sweeping."""
        if self.inbox is None:
            return None
        await self.inbox.start()
        await self._recover(everything=True)
        return asyncio.create_task(self._maintain(), name="inbox-sweeper")

    async def close(self, maintenance: asyncio.Task[None] | None) -> None:
        """Finish (up to DRAIN_TIMEOUT) what is in hand, then hand back claims still open."""
        self._closing.set()
        if maintenance is not None:
            # A sweep in the middle of a database call finishes it: a cancelled call leaves its pooled
            # connection to be reset by the garbage collector (a traceback in the log).
            _done, late = await asyncio.wait({maintenance}, timeout=DRAIN_TIMEOUT)
            await cancel_and_wait(late)
        await self._drain()
        if self.inbox is not None:
            try:
                await self.inbox.stop()
            except Exception:  # noqa: BLE001 - the next start takes over what we still hold
                log.warning("inbox: could not release this process's claims", exc_info=True)

    async def _maintain(self) -> None:
        assert self.inbox is not None
        since_purge = PURGE_EVERY
        while not self._closing.is_set():
            try:
                if since_purge >= PURGE_EVERY:
                    since_purge = 0.0
                    purged = await self.inbox.purge()
                    if purged:
                        log.info("inbox: purged %d handled update(s) past Telegram's 24-hour window", purged)
                await wait_event(self._closing, SWEEP_EVERY)
                if self._closing.is_set():
                    return
                since_purge += SWEEP_EVERY
                await self._recover(everything=False)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - try again next round
                log.warning("inbox sweep failed", exc_info=True)

    async def _recover(self, *, everything: bool) -> None:
        assert self.inbox is not None
        pending = await self.inbox.unhandled(everything=everything)
        owed = await self.inbox.unanswered()
        if pending or owed:
            log.info("inbox: handling %d stored update(s), confirming %d press(es)", len(pending), len(owed))
        for update_id, raw in pending:
            event = self._decode(update_id, raw)
            if event is None:
                await self.inbox.finish(update_id)
            else:
                await self._spawn(feed_safely(self.sink, event, self.messenger, self.transport))
        confirm = getattr(self.sink, "confirm", None)
        for update_id, raw in owed:
            event = self._decode(update_id, raw)
            if event is None or confirm is None:
                self.inbox.answered(update_id)
            else:
                await self._spawn(confirm(event, self.messenger))

    def _decode(self, update_id: int, raw: str) -> Event | None:
        try:
            return self.decode(raw)
        except Exception:  # noqa: BLE001 - a row we cannot parse is not worth a crash loop
            log.exception("inbox: update %s cannot be parsed; skipped", update_id)
            return None

    # ------------------------------------------------------------------ receiving

    async def store(self, batch: Sequence[Received]) -> None:
        if self.inbox is not None:
            await self.inbox.store([(r.update_id, r.raw, r.event is None) for r in batch])

    async def handle(self, batch: Sequence[Received]) -> None:
        for received in batch:
            if received.event is not None:
                await self._spawn(feed_safely(self.sink, received.event, self.messenger, self.transport))

    async def poll(self, fetch: Fetch, stop: asyncio.Event) -> None:
        """Long-poll until ``stop``: each batch is stored before the next call confirms it."""
        offset: int | None = None  # none yet: Telegram starts from the oldest unconfirmed update
        delay = RETRY_DELAY
        while not stop.is_set():
            try:
                batch = await _unless_stopped(fetch(offset, POLL_TIMEOUT), stop)
                if batch is None:
                    break
                await self.store(batch)  # only now may the next getUpdates confirm them
            except Exception as error:  # noqa: BLE001 - network, server, database: wait and ask again
                log.warning("getUpdates or storing failed (%s); again in %.0fs", error, delay)
                await wait_event(stop, delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = RETRY_DELAY
            if batch:
                offset = max(r.update_id for r in batch) + 1
                await self.handle(batch)
        if offset is not None:  # confirm the last stored batch, so a restart does not fetch it again
            with contextlib.suppress(Exception):
                await fetch(offset, 0)

    def webhook_handler(self, secret: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        """The webhook route: 200 only once the update is stored; then it is handled in the background."""

        async def receive(request: web.Request) -> web.Response:
            if not secret_matches(request, secret):
                return web.Response(status=401, text="wrong secret token")
            try:
                raw = await request.text()
                update_id = int(json.loads(raw)["update_id"])
                event = self.decode(raw)
            except Exception:  # noqa: BLE001 - whatever it is, it is not an update
                return web.Response(status=400, text="not an update")
            received = Received(update_id, raw, event)
            try:
                await self.store([received])
            except Exception:  # noqa: BLE001 - not stored: Telegram must try again
                log.warning("could not store update %s; answering 500 so Telegram retries", update_id, exc_info=True)
                return web.Response(status=500, text="not stored")
            await self.handle([received])
            return web.Response()

        return receive

    # ------------------------------------------------------------------ handling

    async def _spawn(self, work: Awaitable[None]) -> None:
        await self._slots.acquire()  # back-pressure: fetching waits while MAX_CONCURRENT_UPDATES are in hand
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._inflight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _drain(self) -> None:
        if not self._inflight:
            return
        _, pending = await asyncio.wait(set(self._inflight), timeout=DRAIN_TIMEOUT)
        if pending:
            log.warning("cancelling %d updates still in hand after %ss", len(pending), DRAIN_TIMEOUT)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _unless_stopped(work: Awaitable[Sequence[Received]], stop: asyncio.Event) -> Sequence[Received] | None:
    """The fetched batch, or None once ``stop`` is set (the long poll is then abandoned)."""
    fetching = asyncio.ensure_future(work)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({fetching, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if fetching.done():
        return fetching.result()
    await cancel_and_wait([fetching])
    return None
