"""The clock of residents' requests: one job per open request, at the next thing its clock must do.

Reminders before each deadline, escalation when one passes (the party's supervisors, then the street
level), and closing a resolved request its author did not rate in time ("not rated"). Reminders and
escalations are planned past the community's quiet hours unless the request is urgent; each step is
done once (its stage is stored with its ledger entry) and its messages go through the outbox with a
dedupe key, so a job that runs twice sends nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from bot.chat.port import Sender
from bot.deliberation.errors import InvalidInput
from bot.deliberation.requests import next_awake
from bot.handlers.render import join
from bot.handlers.requests import notice_message, rates_lines
from bot.i18n import member_locale
from bot.scheduler.context import current
from bot.scheduler.nudges import DEFAULT_QUIET, quiet_now
from bot.scheduler.plan import PlannedJob, Planner
from bot.services import requests as service
from bot.services.community import QuietHours
from bot.services.digests import private_digest_members
from bot.storage import Database
from bot.storage import communities as community_store
from bot.storage import requests as request_store
from bot.storage.models import Community, utcnow
from bot.storage.outbox import Priority, enqueue_text

log = logging.getLogger(__name__)

CLOCK = "bot.scheduler.requests:request_clock"


def _quiet_hours(community: Community | None) -> QuietHours:
    try:
        return QuietHours.parse(community.quiet_hours) if community is not None else DEFAULT_QUIET
    except InvalidInput:
        return DEFAULT_QUIET


async def plan_requests(db: Database, now: datetime) -> list[PlannedJob]:
    runs = await service.next_runs(db)
    if not runs:
        return []
    async with db.uow(readonly=True) as uow:
        communities = {c.id: c for c in await community_store.all_communities(uow)}
    tz = current().tz
    jobs = []
    for request_id, at, urgent, community_id in runs:
        if not urgent:  # the handler is not woken for an ordinary request
            hours = _quiet_hours(communities.get(community_id))
            at = next_awake(at, hours.start, hours.end, tz)
        jobs.append(PlannedJob(f"request:{request_id}", CLOCK, args=(request_id,), run_at=at,
                               misfire_grace_time=7 * 24 * 3600))
    return jobs


async def request_clock(request_id: int, now: datetime | None = None) -> int:
    """Do what is due for this request now; returns how many messages were queued."""
    ctx = current()
    now = now or utcnow()
    async with ctx.db.uow(readonly=True) as uow:
        request = await request_store.by_id(uow, request_id)
        community = await community_store.by_id(uow, request.community_id) if request is not None else None
    if request is None:
        return 0
    quiet = quiet_now(community, now.astimezone(ctx.tz)) if community is not None else False
    notices = await service.run_clock(ctx.db, request_id, now, quiet=quiet, tz=ctx.tz)
    queued = 0
    if notices:
        async with ctx.db.uow() as uow:
            for notice in notices:
                text, actions = notice_message(ctx.i18n, notice)
                queued += await enqueue_text(
                    uow, platform=notice.member.platform, chat_id=notice.member.external_id, text=text,
                    dedupe_key=notice.key, actions=actions, chat_kind="private", member_id=notice.member.id,
                    priority=Priority.NOTICE)
        ctx.wake_outbox()
        log.info("request %s: %d clock messages queued", request_id, queued)
    ctx.replan()  # its next step
    return queued


MONTHLY = "bot.scheduler.requests:monthly_rates"


async def plan_monthly_rates(db: Database, now: datetime) -> list[PlannedJob]:
    # The council hears last month's three rates on the 1st at 09:00, community time.
    return [PlannedJob("request-rates", MONTHLY, cron={"day": 1, "hour": 9, "minute": 0}, misfire_grace_time=86400)]


def previous_month(now: datetime, tz: tzinfo) -> str:
    local = now.astimezone(tz)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


async def monthly_rates(now: datetime | None = None) -> int:
    """Last month's rates, privately to each council member of every community that had requests (but those
    whose private digest carries them, see bot.scheduler.digests); returns how many messages were queued (a
    second run queues none: one dedupe key per member and month)."""
    ctx = current()
    now = now or utcnow()
    month = previous_month(now, ctx.tz)
    async with ctx.db.uow(readonly=True) as uow:
        communities = await community_store.all_communities(uow)
    queued = 0
    for community in communities:
        rows = await service.stats(ctx.db, community.name, month, ctx.tz)
        if not rows or rows[0].rates.received == 0:
            continue
        text = join(rates_lines(month, rows))
        async with ctx.db.uow() as uow:
            assert community.id is not None
            # A council member with a private digest finds the rates in its first digest of the month instead.
            in_digest = await private_digest_members(uow, community.id)
            for member in await service.council(uow, community.id):
                if member.id in in_digest:
                    continue
                locale = member_locale(member, Sender(member.platform, member.external_id), ctx.i18n.default_locale)
                queued += await enqueue_text(
                    uow, platform=member.platform, chat_id=member.external_id, text=ctx.i18n.render(text, locale),
                    dedupe_key=f"request-rates:{community.id}:{month}:{member.id}", chat_kind="private",
                    member_id=member.id, priority=Priority.BULK)
    if queued:
        ctx.wake_outbox()
    return queued


def wire(planners: list[Planner]) -> None:
    planners.append(plan_requests)
    planners.append(plan_monthly_rates)
