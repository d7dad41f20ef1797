"""Ballot messages with live turnout, edited at most once per interval (not once per press).

Presses mark their vote dirty; one flush per interval refreshes every dirty vote together: one
turnout query and one posts query for all of them, then one edit per posted ballot message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.handlers import render
from bot.handlers.types import Messenger, MessengerError, OutMessage
from bot.services import voting
from bot.storage.models import BallotPost, Proposal

if TYPE_CHECKING:
    from bot.handlers.app import Yishi

log = logging.getLogger(__name__)


class BallotBoard:
    def __init__(self, app: Yishi, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._dirty: dict[int, Messenger] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._last_flush = 0.0
        self.edits = 0  # how many edits went out, for tests and benchmarks

    def touch(self, vote_id: int, messenger: Messenger) -> None:
        """A ballot changed: refresh the vote's posts at the next flush."""
        self._dirty[vote_id] = messenger
        if self._flusher is None or self._flusher.done():
            delay = max(0.0, self._last_flush + self.interval - time.monotonic())
            self._flusher = asyncio.create_task(self._flush_later(delay))

    async def _flush_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._last_flush = time.monotonic()
        dirty, self._dirty = self._dirty, {}
        by_messenger: dict[int, list[int]] = {}
        messengers: dict[int, Messenger] = {}
        for vote_id, messenger in dirty.items():
            by_messenger.setdefault(id(messenger), []).append(vote_id)
            messengers[id(messenger)] = messenger
        for key, vote_ids in by_messenger.items():
            try:
                await self.refresh_many(vote_ids, messengers[key])
            except Exception:  # noqa: BLE001 - a failed refresh must not surface anywhere
                log.exception("refreshing ballot posts of votes %s failed", vote_ids)

    async def refresh(self, vote_id: int, messenger: Messenger) -> None:
        await self.refresh_many([vote_id], messenger)

    async def refresh_many(self, vote_ids: list[int], messenger: Messenger) -> None:
        standings = await voting.turnouts(self.app.db, vote_ids)
        async with self.app.db.uow(readonly=True) as uow:
            proposals = {
                p.id: p
                for p in (
                    await uow.session.execute(
                        select(Proposal).where(Proposal.id.in_([v.proposal_id for v, _s in standings.values()]))
                    )
                ).scalars()
            }  # type: ignore[union-attr]
            posts = (
                (
                    await uow.session.execute(
                        select(BallotPost).where(
                            BallotPost.vote_id.in_(vote_ids),  # type: ignore[attr-defined]
                            BallotPost.platform == messenger.platform,
                        )
                    )
                )
                .scalars()
                .all()
            )
        from bot.handlers.votes import ballot_actions

        for post in posts:
            vote, standing = standings[post.vote_id]
            text = render.ballot_post(proposals[vote.proposal_id], vote, standing, self.app.tz)
            message = self.app.i18n.render(text, post.locale)
            actions = ballot_actions(vote, lambda t, loc=post.locale: self.app.i18n.render(t, loc))
            try:
                await messenger.edit(post.chat_id, post.message_id, OutMessage(message[:4096], actions))
                self.edits += 1
            except MessengerError as error:
                log.warning("could not edit ballot post %s in %s: %s", post.message_id, post.chat_id, error)

    async def drain(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
