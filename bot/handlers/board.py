"""Ballot messages with live turnout: the "ballot" kind of live message (bot/handlers/live.py).

A changed ballot touches its vote; a vote's messages are refreshed at most once per interval (not
once per press), each rendered from the database when the outbox sends the edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from bot.chat.port import Messenger, OutMessage
from bot.handlers import render
from bot.handlers.live import Host, LiveKind, LiveMessages, Post
from bot.handlers.votes import ballot_actions
from bot.handlers.wiring import Features
from bot.i18n import _
from bot.services import voting
from bot.storage import proposals as proposal_store
from bot.storage import votes as vote_store
from bot.storage.models import utcnow
from bot.storage.rooms import room_languages

BALLOT = "ballot"
# A vote closed this recently may have missed its final edit in a crash (the /close command edits in
# memory): refreshed at start-up too.
RECENTLY_CLOSED = timedelta(days=1)


async def _posts(app: Host, vote_ids: list[int], platform: str) -> list[Post]:
    async with app.db.uow(readonly=True) as uow:
        rows = await vote_store.posts(uow, vote_ids, platform)
        rooms = await room_languages(uow, platform, (r.chat_id for r in rows), app.i18n.default_locale)
        return [Post(BALLOT, r.vote_id, r.platform, r.chat_id, r.message_id, rooms.get(r.chat_id, r.locale))
                for r in rows]


async def _render(app: Host, post: Post) -> OutMessage | None:
    async with app.db.uow(readonly=True) as uow:
        found = await voting.turnouts_in(uow, [post.subject_id])
        if post.subject_id not in found:
            return None
        vote, standing = found[post.subject_id]
        proposal = await proposal_store.by_id(uow, vote.proposal_id)
    if proposal is None:
        return None
    text = app.i18n.render(render.ballot_post(proposal, vote, standing, app.tz), post.locale)
    web = getattr(app, "web_links", None)  # WEB_BASE_URL: the vote's web page, for those who never type
    if web:
        text += "\n" + app.i18n.render(_("Vote on the web: {link}", link=f"{web}/v/{vote.id}"), post.locale)
    actions = ballot_actions(vote, lambda t: app.i18n.render(t, post.locale))
    return OutMessage(text[:4096], actions)


async def _current(app: Host) -> list[int]:
    since = utcnow() - RECENTLY_CLOSED
    async with app.db.uow(readonly=True) as uow:
        return await vote_store.with_posts_current(uow, since)


BALLOTS = LiveKind(BALLOT, _posts, _render, _current)


def wire(features: Features) -> None:
    features.live_kind(BALLOTS)


class BallotBoard:
    """The ballot messages of votes (callers touch a vote after a changed ballot)."""

    def __init__(self, live: LiveMessages) -> None:
        self.live = live

    @property
    def edits(self) -> int:
        """How many ballot-message edits went out, for tests and benchmarks."""
        return self.live.edits[BALLOT]

    def touch(self, vote_id: int, messenger: Messenger) -> None:
        """A ballot changed: refresh the vote's messages at the next round."""
        self.live.touch(BALLOT, vote_id, messenger)

    async def refresh(self, vote_id: int, messenger: Messenger) -> None:
        await self.refresh_many([vote_id], messenger)

    async def refresh_many(self, vote_ids: Iterable[int], messenger: Messenger) -> None:
        """Refresh now and wait until each message of these votes shows the state after this call."""
        await self.live.refresh(BALLOT, vote_ids, messenger)

    async def drain(self) -> None:
        await self.live.drain()
