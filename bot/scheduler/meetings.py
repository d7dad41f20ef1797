"""Council meeting jobs: the agenda posted the day before, and proposers told of late placements.

The plan for each meeting still ahead:
- "meeting-agenda:<id>" at starts_at - 24 h until the agenda is posted. Its grace lasts until the
  meeting starts, so a job whose time has passed (a restart) still runs at once. A meeting
  scheduled less than 24 h ahead has its agenda posted by ``schedule`` itself and plans nothing.
- "meeting-notices:<id>" when an item's proposer was not told yet (a matter accepted without
  ``notices``): due at the earliest such placement, so it runs at once and then leaves the plan.
"""

from __future__ import annotations

from datetime import datetime

from bot.scheduler.context import current
from bot.scheduler.plan import PlannedJob, Planner
from bot.services import meetings
from bot.storage import Database
from bot.storage import meetings as meeting_store

AGENDA_JOB = "bot.scheduler.meetings:post_agenda"
NOTICES_JOB = "bot.scheduler.meetings:notify_proposers"


async def plan_meetings(db: Database, now: datetime) -> list[PlannedJob]:
    jobs: list[PlannedJob] = []
    async with db.uow(readonly=True) as uow:
        ahead = await meeting_store.scheduled_after(uow, now)
        waiting = await meeting_store.first_untold_placements(uow)
    for meeting in ahead:
        assert meeting.id is not None
        if meeting.agenda_posted_at is None:
            # Worth running until the meeting starts: stable, so replanning never churns the job.
            jobs.append(PlannedJob(f"meeting-agenda:{meeting.id}", AGENDA_JOB, (meeting.id,),
                                   run_at=meeting.starts_at - meetings.AGENDA_LEAD,
                                   misfire_grace_time=int(meetings.AGENDA_LEAD.total_seconds())))
        if meeting.id in waiting:
            first = waiting[meeting.id]
            jobs.append(PlannedJob(f"meeting-notices:{meeting.id}", NOTICES_JOB, (meeting.id,), run_at=first,
                                   misfire_grace_time=max(60, int((meeting.starts_at - first).total_seconds()))))
    return jobs


async def post_agenda(meeting_id: int) -> None:
    context = current()
    notices = meetings.Notices(context.i18n, context.tz)
    if await meetings.post_agenda(context.db, meeting_id, notices):
        context.wake_outbox()


async def notify_proposers(meeting_id: int) -> None:
    context = current()
    notices = meetings.Notices(context.i18n, context.tz)
    if await meetings.notify_pending(context.db, meeting_id, notices):
        context.wake_outbox()


def wire(planners: list[Planner]) -> None:
    planners.append(plan_meetings)
