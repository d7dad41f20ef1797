"""Digest jobs: one cron job per subscription, each run enqueues the digest and moves its cursor.

Cursor rule: a run moves ``last_seq`` to the ledger head it read, whether or not it sent anything
(entries that did not concern the audience need not be read again); it never moves backwards, and
``last_sent_at`` moves only when a digest was queued. A run whose slot was already queued (a doubled
or late run) changes nothing, so whatever happened since goes into the next slot's digest.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from bot.chat.port import Sender
from bot.handlers.digests import WEEKDAY_CODES, digest_text, heading
from bot.handlers.requests import rates_lines
from bot.i18n import Text, Translator, member_locale
from bot.scheduler.context import current
from bot.scheduler.plan import PlannedJob, Planner
from bot.scheduler.requests import previous_month
from bot.services import requests, voting
from bot.services.digests import Audience, Schedule, audience, build_digest, schedule_of
from bot.services.directory import is_council_member
from bot.storage import Database
from bot.storage import digests as digest_store
from bot.storage.models import DigestSubscription, utcnow
from bot.storage.outbox import Priority, any_queued, enqueue_text

JOB = "bot.scheduler.digests:send_digest"


async def plan_digests(db: Database, now: datetime) -> list[PlannedJob]:
    """One repeating job per subscription, in community time (the scheduler gives APScheduler the zone)."""
    async with db.uow(readonly=True) as uow:
        rows = await digest_store.subscriptions(uow)
        return [cron_job(sub) for sub in rows]


def cron_job(subscription: DigestSubscription) -> PlannedJob:
    schedule = schedule_of(subscription)
    cron: dict[str, object] = {"hour": schedule.hour, "minute": schedule.minute}
    if schedule.weekday is not None:
        cron["day_of_week"] = WEEKDAY_CODES[schedule.weekday]
    return PlannedJob(id=f"digest:{subscription.id}", func=JOB, args=(subscription.id,), cron=cron)


def slot(schedule: Schedule, now: datetime, tz: tzinfo) -> str:
    """The scheduled local time this run belongs to (the latest one not after ``now``), e.g. 2026-11-02T20:00.

    A run that starts late still belongs to its slot, so it shares the dedupe key with an on-time run.
    """
    local = now.astimezone(tz)
    planned = local.replace(hour=schedule.hour, minute=schedule.minute, second=0, microsecond=0)
    if planned > local:
        planned -= timedelta(days=1)
    if schedule.weekday is not None:
        planned -= timedelta(days=(planned.weekday() - schedule.weekday) % 7)
    return planned.strftime("%Y-%m-%dT%H:%M")


async def send_digest(subscription_id: int, now: datetime | None = None) -> int:
    """The job: build and enqueue one subscription's digest; returns the parts newly queued."""
    job = current()
    added = await deliver(job.db, job.i18n, job.tz, subscription_id, now)
    if added:
        job.wake_outbox()
    return added


async def deliver(
    db: Database, i18n: Translator, tz: tzinfo, subscription_id: int, now: datetime | None = None
) -> int:
    now = now or utcnow()
    async with db.uow(readonly=True) as uow:
        subscription = await digest_store.subscription(uow, subscription_id)
        if subscription is None:
            return 0  # cleared after the job was planned
        who = await audience(uow, subscription)
        if who.member is not None and not who.member.reachable:
            return 0  # blocked the bot: keep the cursor, they get it all when reachable again
        head = int((await uow.ledger.head())["seq"])
        changes = await build_digest(uow, subscription, now, head)
        cursor, since = subscription.last_seq, subscription.last_sent_at or subscription.created_at
        key = f"digest:{subscription_id}:{slot(schedule_of(subscription), now, tz)}"
        council = who.member is not None and await is_council_member(uow, who.member.id or 0, who.community_id)
    extra = await council_rates(db, who, subscription.last_sent_at, now, tz) if council else []
    standings = {}
    if changes.closing:
        found = await voting.turnouts(db, [i.vote.id for i in changes.closing if i.vote and i.vote.id])
        standings = {vote_id: standing for vote_id, (_vote, standing) in found.items()}
    text = digest_text(changes, tz, heading=heading(who, since, tz), standings=standings, extra=extra)
    async with db.uow() as uow:
        locked = await digest_store.subscription(uow, subscription_id, lock=True)
        if locked is None or locked.last_seq != cursor:
            return 0  # cleared meanwhile, or another run covered this range
        added = 0
        if text is not None:
            if await any_queued(uow, [key, f"{key}#1"]):
                return 0  # this slot's digest is queued already
            if who.room is not None:
                added = await enqueue_text(
                    uow, platform=who.room.platform, chat_id=who.room.chat_id, dedupe_key=key,
                    text=i18n.render(text, who.room.locale or i18n.default_locale), chat_kind="group",
                    priority=Priority.BULK,
                )
            else:
                member = who.member
                assert member is not None
                locale = member_locale(member, Sender(member.platform, member.external_id), i18n.default_locale)
                added = await enqueue_text(
                    uow, platform=member.platform, chat_id=member.external_id, dedupe_key=key,
                    text=i18n.render(text, locale), chat_kind="private", member_id=member.id,
                    priority=Priority.BULK,
                )
            locked.last_sent_at = now
        locked.last_seq = max(locked.last_seq, head)
        return added


async def council_rates(db: Database, who: Audience, last_sent: datetime | None, now: datetime,
                        tz: tzinfo) -> list[Text | str]:
    """Last month's request rates, for a council member's first private digest of a month (none if the
    community had no requests then); bot.scheduler.requests then leaves that member out of its 1st-of-month
    message."""
    if last_sent is not None and last_sent.astimezone(tz).strftime("%Y-%m") == now.astimezone(tz).strftime("%Y-%m"):
        return []  # not the month's first digest
    month = previous_month(now, tz)
    rows = await requests.stats(db, who.community, month, tz)
    if not rows or rows[0].rates.received == 0:
        return []
    return rates_lines(month, rows)


def wire(planners: list[Planner]) -> None:
    planners.append(plan_digests)
