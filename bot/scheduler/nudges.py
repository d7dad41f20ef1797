"""Private nudges: one message a day to a member whose ballot is still missing on an open vote.

Never in the community's quiet hours, never to a member who turned them off (``/nudges off``) or
blocked the bot; at most one per community-local calendar day, decided by a guarded UPDATE of
``Member.last_nudged_at`` in the same transaction as the enqueue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from bot.chat.port import Action, Sender
from bot.deliberation.errors import InvalidInput
from bot.deliberation.scope import Scope
from bot.deliberation.vote_kinds import get_kind
from bot.handlers import render
from bot.i18n import Text, _, member_locale
from bot.scheduler.context import current
from bot.scheduler.plan import PlannedJob, Planner
from bot.services import directory
from bot.services.community import QuietHours
from bot.storage import Database
from bot.storage import members as member_store
from bot.storage import votes as vote_store
from bot.storage.communities import all_communities
from bot.storage.models import Community, Member, Proposal, Vote, utcnow
from bot.storage.outbox import Priority, enqueue_text

log = logging.getLogger(__name__)

NUDGE = "bot.scheduler.nudges:nudge_members"
MAX_VOTES_LISTED = 10
DEFAULT_QUIET = QuietHours(time(22, 0), time(8, 0))


async def plan_nudges(db: Database, now: datetime) -> list[PlannedJob]:
    return [PlannedJob("nudges", NUDGE, cron={"minute": "*/15"}, misfire_grace_time=600)]


def quiet_now(community: Community, local: datetime) -> bool:
    try:
        hours = QuietHours.parse(community.quiet_hours)
    except InvalidInput:
        log.warning("community %s has bad quiet hours %r; using %s", community.id, community.quiet_hours,
                    DEFAULT_QUIET)
        hours = DEFAULT_QUIET
    return hours.contains(local.time())


@dataclass
class _Waiting:
    member: Member
    votes: list[tuple[Vote, Proposal]] = field(default_factory=list)


async def waiting_members(db: Database, now: datetime, communities: set[int]) -> list[_Waiting]:
    """Members who may be nudged today and the open votes (of these communities) still missing their ballot."""
    tz = current().tz
    day_start = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz).astimezone(UTC)
    async with db.uow(readonly=True) as uow:
        votes = await vote_store.open_in(uow, communities, now)
        if not votes:
            return []
        missing = await vote_store.missing_ballots(uow, [v.id for v, _p in votes if v.id is not None])
        links = await directory.verified_links_in(uow, communities)
        councils = await member_store.council_seats_in(uow, communities)
        candidates = set(links) | {m for m, _c in councils}
        if not candidates:
            return []
        members = await member_store.nudgeable(uow, candidates, day_start)
    out = []
    for member in members:
        assert member.id is not None
        waiting = _Waiting(member)
        for vote, proposal in votes:
            scope = Scope.parse(vote.scope)
            in_scope = [link for cid, link in links.get(member.id, [])
                        if cid == proposal.community_id and scope.contains(link.home.building, link.home.unit)]
            keys = directory.keys_for(in_scope, get_kind(vote.kind).electorate, member.id,
                                      (member.id, proposal.community_id) in councils)
            if set(keys) & missing.get(vote.id or 0, set()):
                waiting.votes.append((vote, proposal))
        if waiting.votes:
            out.append(waiting)
    return out


def nudge_text(votes: list[tuple[Vote, Proposal]]) -> Text:
    tz = current().tz
    lines: list[Text | str] = [_("Open votes still waiting for your ballot:")]
    lines.extend(_("#{id} {title}, closes {deadline}", id=p.id, title=p.title, deadline=render.when(v.closes_at, tz))
                 for v, p in votes[:MAX_VOTES_LISTED])
    lines.append(_("At most one such reminder a day. Send /nudges off to stop them."))
    return render.join(lines)


async def nudge_members(now: datetime | None = None) -> int:
    """Queue today's nudges; returns how many members were nudged."""
    ctx = current()
    now = now or utcnow()
    local = now.astimezone(ctx.tz)
    async with ctx.db.uow(readonly=True) as uow:
        communities = await all_communities(uow)
    awake = {c.id for c in communities if c.id is not None and not quiet_now(c, local)}
    if not awake:
        return 0
    day_start = datetime.combine(local.date(), time(0), tzinfo=ctx.tz).astimezone(UTC)
    sent = 0
    for waiting in await waiting_members(ctx.db, now, awake):
        member = waiting.member
        locale = member_locale(member, Sender(member.platform, member.external_id), ctx.i18n.default_locale)
        text = ctx.i18n.render(nudge_text(waiting.votes), locale)
        actions = [[Action(ctx.i18n.render(_("Vote on #{id}", id=p.id), locale), start=f"vote_{v.id}")]
                   for v, p in waiting.votes[:MAX_VOTES_LISTED]]
        async with ctx.db.uow() as uow:
            if not await member_store.claim_nudge(uow, member.id or 0, day_start, now):
                continue  # nudged today already (another run), or turned off meanwhile
            await enqueue_text(uow, platform=member.platform, chat_id=member.external_id, text=text,
                               dedupe_key=f"nudge:{member.id}:{local.date().isoformat()}", actions=actions,
                               chat_kind="private", member_id=member.id, priority=Priority.BULK)
        sent += 1
    if sent:
        log.info("nudged %d members about open votes", sent)
        ctx.wake_outbox()
    return sent


def wire(planners: list[Planner]) -> None:
    planners.append(plan_nudges)
