"""Ballot presses, many per transaction.

A busy vote sees hundreds of presses a second. Each press still gets the full treatment (its
update claimed once, the presser found on the frozen roll, the ballot written, a ledger entry
chained), but the presses that arrive while one transaction runs are handled together in the next,
through the same ``voting.press_ballots``/``record_ballots`` as a single press (a batch of one):
set-based reads, one commit, one trip to the ledger's tip. If a batch fails as a whole (a race with
another process), each press is retried as a batch of its own; a press that still fails gets a
``failed`` outcome, so every waiting press is answered.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, tuple_
from sqlmodel import col

from bot.deliberation.errors import DomainError
from bot.services.voting import Cast, press_ballots
from bot.storage.inbox import claim_handled
from bot.storage.models import Member, utcnow
from bot.storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)
MAX_BATCH = 500


@dataclass
class PressRequest:
    platform: str
    update_id: int
    user_id: str
    vote_id: int
    choice: Any
    future: asyncio.Future[PressOutcome] | None = field(repr=False, default=None)  # set by submit
    bot: str = ""  # the inbox key of the bot it came to ("telegram:<bot id>"); "" = the platform's


@dataclass(frozen=True, slots=True)
class PressOutcome:
    duplicate: bool  # this update was handled before: say nothing
    cast: Cast | None = None
    error: DomainError | None = None
    member_locale: str | None = None
    member_language: str | None = None
    failed: bool = False  # an unexpected error: nothing was recorded, the presser gets an apology


class BallotBatcher:
    def __init__(self, db: Database, claimer: str = "batch") -> None:
        self.db = db
        self.claimer = claimer  # the process's boot id: whose claim an inbox row carries
        self._queue: asyncio.Queue[PressRequest] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, request: PressRequest) -> PressOutcome:
        future: asyncio.Future[PressOutcome] = asyncio.get_running_loop().create_future()
        request.future = future
        await self._queue.put(request)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run())
        return await future

    async def close(self) -> None:
        """Finish the presses already queued (the worker stops by itself when the queue is empty)."""
        if self._worker is not None:
            await self._worker

    async def _run(self) -> None:
        while not self._queue.empty():
            batch = [self._queue.get_nowait()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            self.batches += 1
            try:
                outcomes = await self._process(batch)
            except Exception:  # noqa: BLE001 - fall back to one transaction per press
                log.warning("ballot batch of %d failed; retrying one by one", len(batch), exc_info=True)
                outcomes = [await self._alone(request) for request in batch]
            for request, outcome in zip(batch, outcomes, strict=True):
                if request.future is not None and not request.future.done():
                    request.future.set_result(outcome)

    async def _alone(self, request: PressRequest) -> PressOutcome:
        """A press as a batch of one; whatever goes wrong, the presser gets an answer."""
        try:
            return (await self._record([request]))[0]
        except Exception:  # noqa: BLE001 - answered with an apology, logged with the update id
            log.exception("ballot press failed (update %s)", request.update_id)
            return PressOutcome(False, failed=True)

    async def _process(self, batch: list[PressRequest]) -> list[PressOutcome]:
        return await self._record(batch)

    async def _record(self, batch: list[PressRequest]) -> list[PressOutcome]:
        """Claim the updates and record the fresh presses, in one transaction."""
        now = utcnow()
        async with self.db.uow() as uow:
            fresh = await claim_handled(uow, [(r.bot or r.platform, r.update_id) for r in batch], self.claimer)
            members = await _members(uow, batch)
            todo: list[tuple[int, PressRequest]] = []
            for index, request in enumerate(batch):
                key = (request.bot or request.platform, request.update_id)
                if key in fresh:
                    fresh.discard(key)  # the same update twice in one batch
                    todo.append((index, request))
            results = await press_ballots(
                uow, [(members.get((r.platform, r.user_id)), r.vote_id, r.choice) for _i, r in todo], now)
        outcomes = [PressOutcome(True) for _ in batch]
        for (index, request), result in zip(todo, results, strict=True):
            member = members.get((request.platform, request.user_id))
            locale = (member.locale, member.language_code) if member else (None, None)
            if isinstance(result, DomainError):
                outcomes[index] = PressOutcome(False, None, result, *locale)
            else:
                outcomes[index] = PressOutcome(False, result, None, *locale)
        return outcomes


async def _members(uow: UnitOfWork, batch: list[PressRequest]) -> dict[tuple[str, str], Member]:
    pairs = {(r.platform, r.user_id) for r in batch}
    rows = await uow.session.execute(
        select(Member).where(tuple_(col(Member.platform), col(Member.external_id)).in_(pairs)))
    return {(m.platform, m.external_id): m for m in rows.scalars()}
