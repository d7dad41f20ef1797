"""Ballot messages with live turnout, edited at most once per interval per vote (not once per press)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.handlers import render
from bot.handlers.types import Messenger, MessengerError
from bot.services import voting
from bot.storage.models import BallotPost, Proposal

if TYPE_CHECKING:
    from bot.handlers.app import Yishi

log = logging.getLogger(__name__)


class BallotBoard:
    def __init__(self, app: Yishi, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._pending: dict[int, asyncio.Task[None]] = {}
        self._last_edit: dict[int, float] = {}
        self.edits = 0  # how many edits went out, for tests and benchmarks

    def touch(self, vote_id: int, messenger: Messenger) -> None:
        """A ballot changed: refresh the vote's posts soon, coalescing presses within the interval."""
        if vote_id in self._pending:
            return
        delay = max(0.0, self._last_edit.get(vote_id, 0.0) + self.interval - time.monotonic())
        self._pending[vote_id] = asyncio.create_task(self._later(vote_id, messenger, delay))

    async def _later(self, vote_id: int, messenger: Messenger, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            self._pending.pop(vote_id, None)
        self._last_edit[vote_id] = time.monotonic()
        try:
            await self.refresh(vote_id, messenger)
        except Exception:  # noqa: BLE001 - a failed refresh must not surface anywhere
            log.exception("refreshing ballot posts of vote %s failed", vote_id)

    async def refresh(self, vote_id: int, messenger: Messenger) -> None:
        vote, standing = await voting.turnout(self.app.db, vote_id)
        async with self.app.db.uow(readonly=True) as uow:
            proposal = await uow.session.get(Proposal, vote.proposal_id)
            posts = (
                (
                    await uow.session.execute(
                        select(BallotPost).where(
                            BallotPost.vote_id == vote_id, BallotPost.platform == messenger.platform
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert proposal is not None
        from bot.handlers.votes import ballot_actions

        for post in posts:
            text = render.ballot_post(proposal, vote, standing, self.app.tz)
            message = self.app.i18n.render(text, post.locale)
            actions = ballot_actions(vote, lambda t, loc=post.locale: self.app.i18n.render(t, loc))
            from bot.handlers.types import OutMessage

            try:
                await messenger.edit(post.chat_id, post.message_id, OutMessage(message[:4096], actions))
                self.edits += 1
            except MessengerError as error:
                log.warning("could not edit ballot post %s in %s: %s", post.message_id, post.chat_id, error)

    async def drain(self) -> None:
        tasks = list(self._pending.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
