"""Putting messages in the outbox: inside the caller's unit of work, idempotent by dedupe key.

Jobs and services enqueue in the same transaction as the state change they announce, so a
result is posted if and only if the vote was closed, and a job that fires twice (a restart,
a second process) finds its key taken and adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import IntEnum
from typing import Any

from bot.chat.port import MAX_TEXT, Action, OutMessage
from bot.storage.models import OutboxMessage, utcnow
from bot.storage.uow import UnitOfWork


class Priority(IntEnum):
    """Lower goes first: a person waiting for an answer beats a notice, a notice beats a digest."""

    REPLY = 0
    NOTICE = 5
    BULK = 9


def encode(message: OutMessage, *, reply_to: str | None = None, edit: str | None = None,
           photo: str | None = None) -> dict[str, Any]:
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
    return payload


def decode(payload: dict[str, Any]) -> tuple[OutMessage, str | None]:
    """The message and the id it replies to (see ``payload.get("edit")`` for edits)."""
    actions = tuple(
        tuple(Action(a["label"], data=a.get("data"), start=a.get("start")) for a in row)
        for row in payload.get("actions", [])
    )
    return OutMessage(payload["text"], actions), payload.get("reply_to")


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
