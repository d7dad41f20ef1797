"""Putting messages in the outbox: inside the caller's unit of work, idempotent by dedupe key.

Jobs and services enqueue in the same transaction as the state change they announce, so a
result is posted if and only if the vote was closed, and a job that fires twice (a restart,
a second process) finds its key taken and adds nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import IntEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlmodel import col

from bot.chat.port import MAX_TEXT, Action, OutMessage
from bot.storage.locks import advisory_lock_free
from bot.storage.models import Member, OutboxMessage, utcnow
from bot.storage.uow import UnitOfWork


class Priority(IntEnum):
    """Lower goes first: a person waiting for an answer beats a notice, a notice beats a digest."""

    REPLY = 0
    NOTICE = 5
    BULK = 9


def encode(message: OutMessage, *, reply_to: str | None = None, edit: str | None = None,
           photo: str | None = None, document: tuple[str, bytes] | None = None) -> dict[str, Any]:
    actions = [
        [{k: v for k, v in (("label", a.label), ("data", a.data), ("start", a.start)) if v is not None} for a in row]
        for row in message.actions
    ]
    payload: dict[str, Any] = {"text": message.text, "actions": actions}
    if reply_to is not None:
        payload["reply_to"] = reply_to
    if edit is not None:
        payload["edit"] = edit  # replace the text and actions of this earlier message instead
    if photo is not None:
        payload["photo"] = photo  # a photo by its platform file id, the text as its caption
    if document is not None:  # a file Yishi made (name, bytes), the text as its caption
        payload["document"] = {"name": document[0], "data": base64.b64encode(document[1]).decode("ascii")}
    if message.secret:
        payload["secret"] = True
    return payload


# What a secret message's row keeps once it left the queue (sent or failed for good).
FORGOTTEN = {"text": "(a secret message, forgotten once delivered)", "actions": [], "secret": True}


def document_of(payload: dict[str, Any]) -> tuple[str, bytes] | None:
    """The file a row carries (see ``encode``), or None."""
    found = payload.get("document")
    if not isinstance(found, dict):
        return None
    return str(found["name"]), base64.b64decode(found["data"])


def decode(payload: dict[str, Any]) -> tuple[OutMessage, str | None]:
    """The message and the id it replies to (see ``payload.get("edit")`` for edits)."""
    actions = tuple(
        tuple(Action(a["label"], data=a.get("data"), start=a.get("start")) for a in row)
        for row in payload.get("actions", [])
    )
    return OutMessage(payload["text"], actions, secret=bool(payload.get("secret"))), payload.get("reply_to")


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most ``limit`` characters, cut at line breaks where possible (never mid-line if avoidable)."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one line longer than a message: cut it hard
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        parts.append(current)
    return [part for part in parts if part.strip()]


async def enqueue(
    uow: UnitOfWork,
    *,
    platform: str,
    chat_id: str,
    message: OutMessage,
    dedupe_key: str,
    chat_kind: str = "group",
    member_id: int | None = None,
    priority: int = Priority.NOTICE,
    not_before: datetime | None = None,
    reply_to: str | None = None,
    edit: str | None = None,
    photo: str | None = None,
) -> bool:
    """Queue one message (or, with ``edit``, an edit of message ``edit`` in that chat; with ``photo``, that
    photo by its platform file id with the message's text as its caption).

    False, and nothing added, when ``dedupe_key`` was queued before.
    """
    now = utcnow()
    return await uow.insert_ignore(
        OutboxMessage,
        {
            "dedupe_key": dedupe_key[:200],
            "platform": platform,
            "chat_id": chat_id,
            "chat_kind": chat_kind,
            "member_id": member_id,
            "priority": int(priority),
            "payload": encode(message, reply_to=reply_to, edit=edit, photo=photo),
            "status": "pending",
            "attempts": 0,
            "not_before": not_before or now,
            "created_at": now,
        },
        ("dedupe_key",),
    )


async def enqueue_text(
    uow: UnitOfWork,
    *,
    platform: str,
    chat_id: str,
    text: str,
    dedupe_key: str,
    actions: Sequence[Sequence[Action]] = (),
    chat_kind: str = "group",
    member_id: int | None = None,
    priority: int = Priority.NOTICE,
    not_before: datetime | None = None,
) -> int:
    """Queue a text of any length as parts under 4096 characters (actions on the last part).

    Parts share the key with a ``#n`` suffix and go out in order (one chat is sent to in id order).
    Returns how many parts were newly queued.
    """
    parts = split_text(text)
    added = 0
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        message = OutMessage(part, tuple(tuple(row) for row in actions) if last else ())
        key = dedupe_key if len(parts) == 1 else f"{dedupe_key}#{index + 1}"
        added += await enqueue(
            uow,
            platform=platform,
            chat_id=chat_id,
            message=message,
            dedupe_key=key,
            chat_kind=chat_kind,
            member_id=member_id,
            priority=priority,
            not_before=not_before,
        )
    return added


async def latest_for_member(uow: UnitOfWork, member_id: int, key_prefix: str) -> OutboxMessage | None:
    """The member's most recently queued message whose dedupe key starts with ``key_prefix``."""
    query = (
        select(OutboxMessage)
        .where(col(OutboxMessage.member_id) == member_id, col(OutboxMessage.dedupe_key).startswith(key_prefix))
        .order_by(col(OutboxMessage.id).desc())
        .limit(1)
    )
    return (await uow.session.execute(query)).scalar_one_or_none()


async def redraw_pending(uow: UnitOfWork, row_id: int, message: OutMessage) -> bool:
    """Replace the text of a queued message that is not sent yet; False if it went out (or is going) already."""
    done = await uow.session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == "pending")
        .values(payload=encode(message))
    )
    return bool(getattr(done, "rowcount", 0))


async def any_queued(uow: UnitOfWork, dedupe_keys: Sequence[str]) -> bool:
    """Whether a message under any of these dedupe keys was ever queued (sent or not)."""
    query = select(col(OutboxMessage.id)).where(col(OutboxMessage.dedupe_key).in_(list(dedupe_keys)))
    return (await uow.session.execute(query)).first() is not None


# --- the queue's delivery side: claims, outcomes and recovery (bot/outbox/dispatcher.py) -------------------
# A row goes pending -> sending (claimed by one process) -> sent | failed | skipped, or back to pending.


def _in_chat_from(platform: str, chat_id: str, row_id: int) -> ColumnElement[bool]:
    """This row and whatever still waits for the same chat."""
    return and_(col(OutboxMessage.platform) == platform, col(OutboxMessage.chat_id) == chat_id,
                or_(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == "pending"))


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def queued_count(uow: UnitOfWork) -> int:
    """Messages still to go: pending or in flight."""
    query = select(func.count()).select_from(OutboxMessage).where(
        col(OutboxMessage.status).in_(("pending", "sending")))
    return int((await uow.session.execute(query)).scalar_one())


async def queued_by_kind(uow: UnitOfWork) -> dict[str, int]:
    """Messages still to go by kind: the first part of their dedupe key ("reply", "nudge", "digest")."""
    query = select(col(OutboxMessage.dedupe_key)).where(col(OutboxMessage.status).in_(("pending", "sending")))
    counts: dict[str, int] = {}
    for key in (await uow.session.execute(query)).scalars():
        kind = key.split(":", 1)[0] or "other"
        counts[kind] = counts.get(kind, 0) + 1
    return counts


async def skip_unreachable(uow: UnitOfWork) -> int:
    """Pending messages to members who blocked the bot since they were queued: skipped, not tried."""
    unreachable = select(col(Member.id)).where(col(Member.reachable).is_(False))
    result = await uow.session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.status) == "pending", col(OutboxMessage.member_id).in_(unreachable))
        .values(status="skipped", last_error="the member blocked the bot")
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def due(uow: UnitOfWork, now: datetime, limit: int) -> list[tuple[int, str, str]]:
    """(id, platform, chat id) of pending messages due at ``now``, most urgent first."""
    query = (
        select(col(OutboxMessage.id), col(OutboxMessage.platform), col(OutboxMessage.chat_id))
        .where(col(OutboxMessage.status) == "pending", col(OutboxMessage.not_before) <= now)
        .order_by(col(OutboxMessage.priority), col(OutboxMessage.id))
        .limit(limit)
    )
    return [(row_id, platform, chat_id) for row_id, platform, chat_id in await uow.session.execute(query)
            if row_id is not None]


async def next_due_in_chat(uow: UnitOfWork, platform: str, chat_id: str, now: datetime) -> int | None:
    """The id of the chat's most urgent pending message due at ``now``."""
    query = (
        select(col(OutboxMessage.id))
        .where(col(OutboxMessage.platform) == platform, col(OutboxMessage.chat_id) == chat_id,
               col(OutboxMessage.status) == "pending", col(OutboxMessage.not_before) <= now)
        .order_by(col(OutboxMessage.priority), col(OutboxMessage.id))
        .limit(1)
    )
    return (await uow.session.execute(query)).scalar_one_or_none()


async def claim(uow: UnitOfWork, ids: list[int], claimer: str, now: datetime) -> list[OutboxMessage]:
    """Claim those of these rows still pending (pending -> sending, one attempt more); the rows this
    claimer holds now, most urgent first. A guarded update: two processes never claim the same row."""
    await uow.session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(ids), col(OutboxMessage.status) == "pending")
        .values(status="sending", claimed_by=claimer, claimed_at=now, attempts=col(OutboxMessage.attempts) + 1)
        .execution_options(synchronize_session=False)
    )
    query = (
        select(OutboxMessage)
        .where(col(OutboxMessage.id).in_(ids), col(OutboxMessage.status) == "sending",
               col(OutboxMessage.claimed_by) == claimer)
        .order_by(col(OutboxMessage.priority), col(OutboxMessage.id))
    )
    return list((await uow.session.execute(query)).scalars())


async def add_claimed(uow: UnitOfWork, *, dedupe_key: str, platform: str, chat_id: str, chat_kind: str,
                      priority: int, payload: dict[str, Any], claimer: str, now: datetime) -> OutboxMessage:
    """A new message already claimed by ``claimer`` (a reply sent at once); written before it is sent, so a
    crash before delivery still gets it sent after the restart."""
    row = OutboxMessage(dedupe_key=dedupe_key, platform=platform, chat_id=chat_id, chat_kind=chat_kind,
                        priority=priority, payload=payload, status="sending", attempts=1, claimed_by=claimer,
                        claimed_at=now, not_before=now, created_at=now)
    uow.session.add(row)
    await uow.session.flush()
    return row


async def mark_sent(uow: UnitOfWork, row_id: int, sent_message_id: str | None, now: datetime,
                    *, forget: bool = False) -> None:
    """Delivered; ``forget``: the text was secret (``OutMessage.secret``) and is dropped from the row."""
    values: dict[str, Any] = {"status": "sent", "sent_at": now, "sent_message_id": sent_message_id, "last_error": None}
    if forget:
        values["payload"] = FORGOTTEN
    await uow.session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(**values))


async def mark_failed(uow: UnitOfWork, row_id: int, error: str, *, forget: bool = False) -> None:
    values: dict[str, Any] = {"status": "failed", "last_error": error[:500]}
    if forget:
        values["payload"] = FORGOTTEN
    await uow.session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(**values))


async def release(uow: UnitOfWork, row_id: int, not_before: datetime, error: str) -> None:
    """Back to the queue, not before ``not_before``."""
    await uow.session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id)
        .values(status="pending", claimed_by=None, not_before=not_before, last_error=error[:500])
    )


async def release_all(uow: UnitOfWork, claimer: str) -> int:
    """Everything this claimer still holds goes back to the queue (a clean stop)."""
    result = await uow.session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.status) == "sending", col(OutboxMessage.claimed_by) == claimer)
        .values(status="pending", claimed_by=None)
    )
    return _rowcount(result)


async def skip_chat(uow: UnitOfWork, platform: str, chat_id: str, row_id: int, error: str) -> int:
    """The chat blocked the bot: this row and whatever waits for the chat are skipped; how many."""
    result = await uow.session.execute(
        update(OutboxMessage)
        .where(_in_chat_from(platform, chat_id, row_id))
        .values(status="skipped", last_error=error[:500])
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def move_chat(uow: UnitOfWork, platform: str, old_chat_id: str, row_id: int, new_chat_id: str) -> int:
    """A group became a supergroup: this row and whatever waits for the chat follow it, pending again."""
    result = await uow.session.execute(
        update(OutboxMessage)
        .where(_in_chat_from(platform, old_chat_id, row_id))
        .values(chat_id=new_chat_id, status="pending", claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def other_claimers(uow: UnitOfWork, claimer: str) -> list[str]:
    """Every other process holding a claim."""
    query = select(col(OutboxMessage.claimed_by)).where(
        col(OutboxMessage.status) == "sending", col(OutboxMessage.claimed_by) != claimer).distinct()
    return [c for c in (await uow.session.execute(query)).scalars() if c]


async def dead_claimers(uow: UnitOfWork, claimer: str, liveness_key: Callable[[str], int]) -> list[str]:
    """Other processes holding a claim whose liveness lock (``liveness_key`` of their id) is free: they died.
    PostgreSQL only (advisory locks)."""
    claimers = await other_claimers(uow, claimer)
    connection = await uow.session.connection()
    return [c for c in claimers if await advisory_lock_free(connection, liveness_key(c))]


async def requeue_claims(uow: UnitOfWork, claimer: str, *, claimed_before: datetime, dead: Sequence[str] = ()) -> int:
    """Claims of other processes claimed at or before ``claimed_before``, or held by a ``dead`` one, go back to
    the queue (sent again: at least once); how many."""
    taken_over = col(OutboxMessage.claimed_at) <= claimed_before
    if dead:
        taken_over = or_(taken_over, col(OutboxMessage.claimed_by).in_(list(dead)))
    result = await uow.session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.status) == "sending", col(OutboxMessage.claimed_by) != claimer, taken_over)
        .values(status="pending", claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)
