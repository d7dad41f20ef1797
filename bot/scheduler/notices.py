"""Announcements queued in the rooms of a scope, inside the caller's unit of work.

Shared by the scheduler's jobs (a vote closing at its deadline, a proposal expiring, an objection
period ending, reminders) and the ``/close`` command, so every path posts in every room whose scope
overlaps the matter's scope, once (each row carries a dedupe key).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select

from bot.deliberation.scope import Scope
from bot.handlers import render
from bot.handlers.types import OutMessage
from bot.i18n import Text, Translator, _
from bot.outbox.queue import Priority, enqueue, enqueue_text
from bot.services import voting
from bot.services.voting import Closed
from bot.storage.models import BallotPost, ChatRoom, Proposal, Vote, utcnow
from bot.storage.uow import Database, UnitOfWork


async def rooms_for_scope(uow: UnitOfWork, community_id: int, scope: str) -> list[ChatRoom]:
    """Bound rooms of the community that see a matter of ``scope`` (all, the building, the unit)."""
    wanted = Scope.parse(scope)
    rooms = (
        await uow.session.execute(
            select(ChatRoom).where(ChatRoom.community_id == community_id).order_by(ChatRoom.id)  # type: ignore[arg-type]
        )
    ).scalars()
    return [room for room in rooms if Scope.parse(room.scope).overlaps(wanted)]


async def post_in_rooms(
    uow: UnitOfWork, i18n: Translator, community_id: int, scope: str, text: Text, key: str,
    *, skip_chat: tuple[str, str] | None = None, actions: Any = None,
) -> list[ChatRoom]:
    """Queue ``text`` in every room of the scope, each in the room's language; the rooms used."""
    rooms = [r for r in await rooms_for_scope(uow, community_id, scope) if (r.platform, r.chat_id) != skip_chat]
    for room in rooms:
        locale = room.locale or i18n.default_locale
        rendered = i18n.render(text, locale)
        await enqueue_text(
            uow, platform=room.platform, chat_id=room.chat_id, text=rendered,
            dedupe_key=f"{key}:{room.platform}:{room.chat_id}", priority=Priority.NOTICE,
            actions=actions(locale) if callable(actions) else (),
        )
    return rooms


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
    posts = (await uow.session.execute(select(BallotPost).where(BallotPost.vote_id == vote.id))).scalars().all()
    from bot.handlers.live import room_languages

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
