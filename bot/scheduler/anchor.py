"""The ledger's head, posted to the council's rooms each day: an anchor outside the database.

Each community room bound to ``all`` gets the head (sequence number and hash) once a day at 09:00
community time, when it changed since the last post. A council that keeps these messages can later
run ``yishi ledger verify --head SEQ:HASH``: a ledger rewritten or cut back no longer contains them.
"""

from __future__ import annotations

from datetime import datetime

from bot.i18n import _
from bot.scheduler.context import current
from bot.scheduler.plan import PlannedJob, Planner
from bot.storage import Database
from bot.storage.outbox import Priority, enqueue_text
from bot.storage.rooms import rooms_with_scope
from bot.storage.uow import UnitOfWork

JOB = "bot.scheduler.anchor:post_head"


async def plan_anchor(db: Database, now: datetime) -> list[PlannedJob]:
    return [PlannedJob("ledger-head", JOB, cron={"hour": 9, "minute": 0}, misfire_grace_time=12 * 3600)]


async def queue_head(uow: UnitOfWork) -> int:
    """Queue the current head in every ``all`` room (once per head and room); how many were queued."""
    context = current()
    head = await uow.ledger.head()
    if not head["seq"]:
        return 0
    rooms = await rooms_with_scope(uow, "all")
    message = _("Ledger head today: {seq}:{hash}. Keep this message: `yishi ledger verify --head {seq}:{hash}` "
                "checks that the ledger still contains it.", seq=head["seq"], hash=head["hash"])
    added = 0
    for room in rooms:
        text = context.i18n.render(message, room.locale or context.i18n.default_locale)
        added += await enqueue_text(uow, platform=room.platform, chat_id=room.chat_id, text=text,
                                    dedupe_key=f"ledger-head:{head['hash']}:{room.platform}:{room.chat_id}",
                                    priority=Priority.BULK)
    return added


async def post_head() -> None:
    context = current()
    async with context.db.uow() as uow:
        added = await queue_head(uow)
    if added:
        context.wake_outbox()


def wire(planners: list[Planner]) -> None:
    planners.append(plan_anchor)
