"""Deadlines and room reminders: votes close themselves, proposals expire, objection periods end.

Each job re-reads the database and changes state with a guard (the vote still open, the stage not
yet reached), queueing its announcement in the same transaction, so a job that runs twice, late or
in a second process adds nothing. A sweep every few minutes runs every ``*_due`` query too, so a
lost job never loses a deadline.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo
from typing import Any

from bot.deliberation.errors import IllegalTransition, NotFound
from bot.handlers import render
from bot.handlers.announcements import close_and_announce, expiry_notice, post_in_rooms, settlement_notice
from bot.handlers.votes import ballot_actions
from bot.i18n import Text, Translator, _
from bot.scheduler.context import current
from bot.scheduler.plan import PlannedJob, Planner
from bot.services import agenda, elevator, voting
from bot.storage import Database
from bot.storage import proposals as proposal_store
from bot.storage import votes as vote_store
from bot.storage.models import Proposal, Vote, utcnow

log = logging.getLogger(__name__)

_HERE = "bot.scheduler.deadlines"
CLOSE_VOTE = f"{_HERE}:close_due_vote"
REMIND = f"{_HERE}:remind"
EXPIRE = f"{_HERE}:expire_proposals"
SETTLE = f"{_HERE}:settle_objections"
SWEEP = f"{_HERE}:sweep"
# Room reminders before a vote closes: (stage, how long before closes_at).
REMINDER_POINTS = ((1, timedelta(hours=24)), (2, timedelta(hours=2)))
WEEK = 7 * 86400


def _points(vote: Vote) -> list[tuple[int, datetime]]:
    """The reminder points of this vote; a point at or before the opening is no reminder (a 1-day vote)."""
    return [(stage, vote.closes_at - before) for stage, before in REMINDER_POINTS
            if vote.closes_at - before > vote.opened_at]


def due_stage(vote: Vote, now: datetime) -> int:
    """The latest reminder stage whose point has passed (0: none yet)."""
    return max((stage for stage, at in _points(vote) if now >= at), default=0)


def next_reminder(vote: Vote, now: datetime) -> datetime | None:
    """When the next reminder should go: now if one is overdue (only the latest is sent), else its point."""
    if vote.status != "open" or now >= vote.closes_at:
        return None
    if due_stage(vote, now) > vote.reminder_stage:
        return now
    upcoming = [at for stage, at in _points(vote) if stage > vote.reminder_stage and at > now]
    return min(upcoming, default=None)


async def plan_deadlines(db: Database, now: datetime) -> list[PlannedJob]:
    jobs = [PlannedJob("deadline-sweep", SWEEP, cron={"minute": "*/5"}, misfire_grace_time=240)]
    async with db.uow(readonly=True) as uow:
        for vote in await vote_store.open_votes(uow):
            # An overdue deadline (after downtime) runs now rather than being dropped as a misfire.
            jobs.append(PlannedJob(f"vote-close:{vote.id}", CLOSE_VOTE, (vote.id,), run_at=max(vote.closes_at, now),
                                   misfire_grace_time=WEEK))
            at = next_reminder(vote, now)
            if at is not None:
                jobs.append(PlannedJob(f"vote-remind:{vote.id}", REMIND, (vote.id,), run_at=max(at, now),
                                       misfire_grace_time=86400))
        for proposal_id, until in await proposal_store.collecting_until(uow):
            jobs.append(PlannedJob(f"proposal-expire:{proposal_id}", EXPIRE, run_at=max(until, now),
                                   misfire_grace_time=WEEK))
        for proposal_id, until in await proposal_store.objection_until(uow):
            jobs.append(PlannedJob(f"objection-end:{proposal_id}", SETTLE, run_at=max(until, now),
                                   misfire_grace_time=WEEK))
    return jobs


# --- jobs -------------------------------------------------------------------------------------------


async def close_due_vote(vote_id: int, now: datetime | None = None) -> bool:
    """Close a vote at its deadline and queue its result in every room of its scope. True if it closed now."""
    ctx = current()
    try:
        await close_and_announce(ctx.db, ctx.i18n, ctx.tz, vote_id, None, now or utcnow())
    except (IllegalTransition, NotFound) as refused:
        log.debug("vote %s not closed by the scheduler: %s", vote_id, refused)
        return False  # closed already (by /close or another run), deadline moved, or gone
    log.info("vote %s closed at its deadline", vote_id)
    ctx.wake_outbox()
    ctx.replan()
    return True


def reminder_text(proposal: Proposal, vote: Vote, standing: dict[str, Any], now: datetime, tz: tzinfo) -> Text:
    hours = max(1, round((vote.closes_at - now).total_seconds() / 3600))
    return render.join([
        _("Reminder: the vote on #{id} {title} closes {deadline} (in about {hours} hours).",
          id=proposal.id, title=proposal.title, deadline=render.when(vote.closes_at, tz), hours=hours),
        *render.turnout_lines(vote, standing),
        _("Not voted yet? Every ballot counts."),
    ])


async def remind(vote_id: int, now: datetime | None = None) -> bool:
    """The room reminder now due (only the latest stage after downtime), once. True if one was queued."""
    ctx = current()
    now = now or utcnow()
    async with ctx.db.uow() as uow:
        vote = await vote_store.by_id(uow, vote_id)
        if vote is None or vote.status != "open" or now >= vote.closes_at:
            return False
        stage = due_stage(vote, now)
        if stage == 0:
            return False
        # The guard decides: a second run (restart, second process) finds the stage taken.
        if not await vote_store.mark_reminded(uow, vote_id, stage):
            return False
        proposal = await uow.get(Proposal, vote.proposal_id, what="proposal")
        standing = (await voting.turnouts_in(uow, [vote_id]))[vote_id][1]
        i18n: Translator = ctx.i18n

        def actions(locale: str) -> Any:
            return ballot_actions(vote, lambda t: i18n.render(t, locale))

        await post_in_rooms(uow, i18n, proposal.community_id, vote.scope, reminder_text(proposal, vote, standing,
                                                                                        now, ctx.tz),
                            f"vote-remind:{vote_id}:{stage}", actions=actions)
    ctx.wake_outbox()
    ctx.replan()
    return True


async def expire_proposals(now: datetime | None = None) -> list[int]:
    """Expire every proposal past its collecting window, with a notice in the rooms of its scope."""
    ctx = current()
    now = now or utcnow()
    async with ctx.db.uow() as uow:
        expired = await agenda.expire_due_in(uow, now)
        for proposal in expired:
            assert proposal.id is not None
            supports = await agenda.supports_count(uow, proposal.id)
            await post_in_rooms(uow, ctx.i18n, proposal.community_id, proposal.scope,
                                expiry_notice(proposal, supports), f"proposal-expired:{proposal.id}")
    if expired:
        ctx.wake_outbox()
        ctx.replan()
    return [p.id for p in expired if p.id is not None]


async def settle_objections(now: datetime | None = None) -> list[int]:
    """Settle every elevator objection period that has ended, with a notice of the outcome."""
    ctx = current()
    now = now or utcnow()
    settled_ids = []
    for proposal_id in await elevator.objection_periods_due(ctx.db, now):
        try:
            async with ctx.db.uow() as uow:
                settled = await elevator.settle_in(uow, proposal_id, now)
                proposal = settled.proposal
                await post_in_rooms(uow, ctx.i18n, proposal.community_id, proposal.scope,
                                    settlement_notice(proposal, settled.blocking), f"objections-settled:{proposal_id}")
        except IllegalTransition:
            continue  # settled meanwhile by another run
        settled_ids.append(proposal_id)
    if settled_ids:
        ctx.wake_outbox()
        ctx.replan()
    return settled_ids


async def sweep(now: datetime | None = None) -> None:
    """The safety net: every deadline and reminder that is due, whatever happened to its own job."""
    ctx = current()
    now = now or utcnow()
    for vote_id in await voting.votes_due(ctx.db, now):
        await close_due_vote(vote_id, now)
    async with ctx.db.uow(readonly=True) as uow:
        open_votes = await vote_store.open_votes(uow, closing_after=now)
    for vote in open_votes:
        if vote.id is not None and due_stage(vote, now) > vote.reminder_stage:
            await remind(vote.id, now)
    await expire_proposals(now)
    await settle_objections(now)


def wire(planners: list[Planner]) -> None:
    planners.append(plan_deadlines)
