"""Council meetings in storage (a repository)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import col

from bot.storage.models import Meeting, MeetingItem
from bot.storage.uow import UnitOfWork


async def scheduled_after(uow: UnitOfWork, now: datetime) -> list[Meeting]:
    """Meetings still scheduled that start after ``now``, by id."""
    query = (
        select(Meeting)
        .where(col(Meeting.status) == "scheduled", col(Meeting.starts_at) > now)
        .order_by(col(Meeting.id))
    )
    return list((await uow.session.execute(query)).scalars())


async def first_untold_placements(uow: UnitOfWork) -> dict[int, datetime]:
    """For each meeting with an item whose proposer was not told yet: when the earliest such item was added."""
    query = (
        select(col(MeetingItem.meeting_id), func.min(col(MeetingItem.added_at)))
        .where(col(MeetingItem.notified_at).is_(None))
        .group_by(col(MeetingItem.meeting_id))
    )
    return {meeting_id: first for meeting_id, first in await uow.session.execute(query) if first is not None}
