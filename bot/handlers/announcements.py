"""Announcements of results and deadlines, queued in the rooms of a scope inside the caller's unit of work.

Shared by the scheduler's jobs (a vote closing at its deadline, a proposal expiring, an objection
period ending, reminders) and the ``/close`` command, so every path posts in every room whose scope
overlaps the matter's scope, once (each row carries a dedupe key).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.chat.port import OutMessage
from bot.handlers import render
from bot.i18n import Text, Translator, _
from bot.services import voting
from bot.services.broadcast import post_in_rooms, rooms_for_scope
from bot.services.voting import Closed
from bot.storage.models import ChatRoom, Proposal, Vote, utcnow
from bot.storage.outbox import Priority, enqueue
from bot.storage.rooms import ballot_posts, room_languages
from bot.storage.uow import Database, UnitOfWork

__all__ = [
    "announce_closed",
    "close_and_announce",
    "expiry_notice",
    "freeze_ballot_posts",
    "post_in_rooms",
    "rooms_for_scope",
    "settlement_notice",
]


async def announce_closed(
    uow: UnitOfWork, i18n: Translator, tz: tzinfo, closed: Closed,
    *, skip_chat: tuple[str, str] | None = None, edit_posts: bool = True,
) -> list[ChatRoom]:
    """The result in every room of the vote's scope, and (``edit_posts``) each ballot post frozen.

    ``skip_chat`` is the room a moderator's ``/close`` answers directly; ``edit_posts=False`` when
    the caller edits the ballot posts itself (the live board does for ``/close``).
    """
    vote, proposal = closed.vote, closed.proposal
    assert vote.id is not None
    text = render.result_text(proposal, vote, closed.result, closed.head)
    rooms = await post_in_rooms(uow, i18n, proposal.community_id, vote.scope, text, f"vote-result:{vote.id}",
                                skip_chat=skip_chat)
    if edit_posts:
        await freeze_ballot_posts(uow, i18n, tz, proposal, vote)
    return rooms


async def freeze_ballot_posts(uow: UnitOfWork, i18n: Translator, tz: tzinfo, proposal: Proposal, vote: Vote) -> int:
    """Queue an edit of every ballot message to its closed state (final turnout, no buttons)."""
    assert vote.id is not None
    standing = (await voting.turnouts_in(uow, [vote.id]))[vote.id][1]
    posts = await ballot_posts(uow, vote.id)
    added = 0
    for post in posts:
        rooms = await room_languages(uow, post.platform, [post.chat_id], i18n.default_locale)
        body = i18n.render(render.ballot_post(proposal, vote, standing, tz), rooms.get(post.chat_id, post.locale))
        added += await enqueue(
            uow, platform=post.platform, chat_id=post.chat_id, message=OutMessage(body[:4096]),
            dedupe_key=f"vote-closed-edit:{vote.id}:{post.id}", edit=post.message_id, priority=Priority.NOTICE,
        )
    return added


async def close_and_announce(
    db: Database, i18n: Translator, tz: tzinfo, vote_id: int, actor: Any = None, now: datetime | None = None,
    *, skip_chat: tuple[str, str] | None = None, edit_posts: bool = True,
) -> Closed:
    """Close a vote and queue its announcement in one transaction: posted if and only if closed."""
    async with db.uow() as uow:
        closed = await voting.close_in(uow, vote_id, actor, now or utcnow())
        await announce_closed(uow, i18n, tz, closed, skip_chat=skip_chat, edit_posts=edit_posts)
        return closed


def expiry_notice(proposal: Proposal, supports: int) -> Text:
    return _(
        "Proposal #{id} {title} did not gather enough co-signatures ({have}/{need}) in time and is closed.",
        id=proposal.id, title=proposal.title, have=supports, need=proposal.support_threshold,
    )


def settlement_notice(proposal: Proposal, blocking: int) -> Text:
    if blocking:
        return _(
            "The objection period of #{id} {title} has ended with {n} objections unresolved: the plan is not "
            "adopted.", id=proposal.id, title=proposal.title, n=blocking,
        )
    return _(
        "The objection period of #{id} {title} has ended with no objection left open: the plan is adopted.",
        id=proposal.id, title=proposal.title,
    )
