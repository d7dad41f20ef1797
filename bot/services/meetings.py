"""Council meetings: schedule, move, cancel; accepted matters placed on the agenda; proposers told.

Decisions (see also the README):
- One meeting ahead per community: ``/meeting <date> <time>`` while a meeting is scheduled and not
  yet held *moves* it (ledger ``meeting_moved``) instead of creating a second one. A scheduled
  meeting whose time has passed counts as held; it is closed as such when the next one is scheduled.
- Every matter in state "agenda" that is not on the meeting yet is placed on it, in order of
  acceptance; one accepted later goes on the next meeting in the accepting transaction.
- Withdrawn, declined and merged matters drop off the agenda: their items stay (the ledger and the
  rows keep the history) but are left out of every agenda shown or posted.
- Proposers are told privately once per item and meeting time (``notified_at`` guarded, dedupe key
  with the time); a move resets ``notified_at`` and tells them the new time.
- The agenda is posted in every bound room of the community 24 h before the meeting (a job), or at
  once when the meeting is scheduled less than 24 h ahead. A matter added after the agenda was
  posted is announced in the rooms as an addendum.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, select, update
from sqlmodel import col

from bot.deliberation.errors import IllegalTransition, InvalidInput, NotFound
from bot.deliberation.mandate import Power
from bot.deliberation.proposal import ProposalState
from bot.i18n import Text, Translator, _, normalize_locale
from bot.plain import scope_name
from bot.services import directory
from bot.services.broadcast import post_in_rooms
from bot.services.directory import Actor
from bot.storage.models import Community, CouncilRole, Meeting, MeetingItem, Member, Proposal, utcnow
from bot.storage.outbox import Priority, enqueue_text
from bot.storage.uow import Database, UnitOfWork, rowcount

AGENDA_LEAD = timedelta(hours=24)
MAX_AHEAD = timedelta(days=366)
# Matters that left the agenda before the meeting: not shown, not posted.
DROPPED = frozenset({ProposalState.WITHDRAWN, ProposalState.DECLINED, ProposalState.MERGED})

_DATE_FULL = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DATE_SHORT = re.compile(r"^(\d{1,2})[-/.](\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2})[:\uff1a](\d{2})$")  # also the full-width colon


@dataclass(frozen=True, slots=True)
class Notices:
    """What a service needs to word messages: the translator (default locale) and the community time zone."""

    i18n: Translator
    tz: tzinfo


def when(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


# --- parsing ----------------------------------------------------------------------------------------


def parse_when(date_text: str, time_text: str, tz: tzinfo, now: datetime) -> datetime:
    """The meeting time in UTC from a date (YYYY-MM-DD, or M-D meaning the next such date) and HH:MM.

    InvalidInput(field="meeting", reason=date|time|past|far) otherwise.
    """
    match = _TIME.match(time_text.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise InvalidInput("time is HH:MM", field="meeting", reason="time")
    at = time(int(match.group(1)), int(match.group(2)))
    local_now = now.astimezone(tz)
    text = date_text.strip()
    full, short = _DATE_FULL.match(text), _DATE_SHORT.match(text)
    if full is not None:
        day = _date(int(full.group(1)), int(full.group(2)), int(full.group(3)))
        if day is None:
            raise InvalidInput("no such date", field="meeting", reason="date")
        starts_at = datetime.combine(day, at, tzinfo=tz)
    elif short is not None:
        month, dom = int(short.group(1)), int(short.group(2))
        next_one: datetime | None = None
        for year in range(local_now.year, local_now.year + 9):  # 29 February comes back within 8 years
            day = _date(year, month, dom)
            if day is not None and datetime.combine(day, at, tzinfo=tz) > now:
                next_one = datetime.combine(day, at, tzinfo=tz)
                break
        if next_one is None:
            raise InvalidInput("no such date", field="meeting", reason="date")
        starts_at = next_one
    else:
        raise InvalidInput("date is YYYY-MM-DD or MM-DD", field="meeting", reason="date")
    starts_at = starts_at.astimezone(now.tzinfo)
    if starts_at <= now:
        raise InvalidInput("the meeting must be in the future", field="meeting", reason="past")
    if starts_at - now > MAX_AHEAD:
        raise InvalidInput("at most a year ahead", field="meeting", reason="far")
    return starts_at


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


# --- reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgendaItem:
    position: int  # 1, 2, ... as shown (dropped matters leave no gap)
    proposal: Proposal


@dataclass(frozen=True, slots=True)
class MeetingView:
    meeting: Meeting
    items: list[AgendaItem]


async def next_meeting(uow: UnitOfWork, community_id: int, now: datetime, *, lock: bool = False) -> Meeting | None:
    """The scheduled meeting still ahead, if any."""
    query = select(Meeting).where(
        col(Meeting.community_id) == community_id, col(Meeting.status) == "scheduled", col(Meeting.starts_at) > now
    ).order_by(col(Meeting.starts_at))
    if lock:
        query = query.with_for_update()
    return (await uow.session.execute(query)).scalars().first()


async def agenda_items(uow: UnitOfWork, meeting_id: int) -> list[AgendaItem]:
    rows = await uow.session.execute(
        select(Proposal)
        .join(MeetingItem, col(MeetingItem.proposal_id) == col(Proposal.id))
        .where(col(MeetingItem.meeting_id) == meeting_id)
        .order_by(col(MeetingItem.position), col(MeetingItem.id))
    )
    kept = [p for p in rows.scalars() if ProposalState(p.state) not in DROPPED]
    return [AgendaItem(index, p) for index, p in enumerate(kept, start=1)]


async def show(db: Database, community_id: int, now: datetime | None = None) -> MeetingView | None:
    now = now or utcnow()
    async with db.uow(readonly=True) as uow:
        meeting = await next_meeting(uow, community_id, now)
        if meeting is None or meeting.id is None:
            return None
        return MeetingView(meeting, await agenda_items(uow, meeting.id))


async def council_communities(db: Database, actor: Actor) -> list[Community]:
    """The communities on whose council this member sits (for /meeting in a private chat)."""
    async with db.uow(readonly=True) as uow:
        rows = await uow.session.execute(
            select(Community)
            .join(CouncilRole, col(CouncilRole.community_id) == col(Community.id))
            .join(Member, col(Member.id) == col(CouncilRole.member_id))
            .where(col(Member.platform) == actor.platform, col(Member.external_id) == actor.external_id)
            .order_by(col(Community.id))
        )
        return list(rows.scalars())


# --- texts ------------------------------------------------------------------------------------------


def agenda_text(meeting: Meeting, items: Sequence[AgendaItem], tz: tzinfo) -> Text:
    lines: list[Text | str] = [_("Council meeting on {when}. Agenda:", when=when(meeting.starts_at, tz))]
    if not items:
        lines.append(_("No accepted matters are on the agenda yet."))
    for item in items:
        lines.append(_("{n}. #{id} {title} ({scope})", n=item.position, id=item.proposal.id,
                       title=item.proposal.title, scope=scope_name(item.proposal.scope)))
    return join(lines)


def join(lines: Sequence[Text | str]) -> Text:
    # Rendered by the translator part by part (a Text inside a Text is translated too).
    params = {f"p{i}": line for i, line in enumerate(lines)}
    return Text("\n".join("{" + key + "}" for key in params), params)


# --- writing ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scheduled:
    meeting: Meeting
    moved_from: datetime | None  # set when an existing meeting was moved
    placed: int  # matters newly put on the agenda
    agenda_posted: bool  # posted at once (less than 24 h ahead)


async def _lock_community(uow: UnitOfWork, community_id: int) -> Community:
    # Scheduling and accepting serialise on the community row, so a matter accepted while a
    # meeting is being scheduled is placed by one of the two and never missed by both.
    return await uow.get(Community, community_id, what="community", lock=True)


async def schedule(
    db: Database, community_id: int, actor: Actor, starts_at: datetime, notices: Notices, now: datetime | None = None
) -> Scheduled:
    """Schedule the next council meeting, or move the one already ahead."""
    now = now or utcnow()
    if starts_at <= now:
        raise InvalidInput("the meeting must be in the future", field="meeting", reason="past")
    async with db.uow() as uow:
        await _lock_community(uow, community_id)
        moderator = await directory.require_moderator(uow, actor, community_id, power=Power.MEETINGS)
        await _close_past(uow, community_id, now)
        meeting = await next_meeting(uow, community_id, now, lock=True)
        moved_from = None
        told_before: set[int] = set()
        if meeting is None:
            meeting = Meeting(community_id=community_id, starts_at=starts_at, status="scheduled",
                              created_by_member_id=moderator.id, created_at=now)
            uow.session.add(meeting)
            await uow.session.flush()
            assert meeting.id is not None
            await uow.ledger.append("meeting_scheduled", f"meeting:{meeting.id}",
                                    {"community": community_id, "by": moderator.id,
                                     "starts_at": starts_at.isoformat()}, at=now)
        else:
            assert meeting.id is not None
            moved_from = meeting.starts_at
            if moved_from == starts_at:
                raise InvalidInput("the meeting is already at that time", field="meeting", reason="same")
            if meeting.agenda_posted_at is not None:
                await _post_rooms(uow, meeting, notices, f"meeting-moved:{meeting.id}:{_epoch(starts_at)}",
                                  _("The council meeting on {old} was moved to {new}.",
                                    old=when(moved_from, notices.tz), new=when(starts_at, notices.tz)))
            meeting.starts_at = starts_at
            meeting.agenda_posted_at = None  # posted again the day before the new date
            told_before = {item_id for item_id in (await uow.session.execute(
                select(col(MeetingItem.id)).where(col(MeetingItem.meeting_id) == meeting.id,
                                                  col(MeetingItem.notified_at).is_not(None))
            )).scalars() if item_id is not None}
            await uow.session.execute(
                update(MeetingItem).where(col(MeetingItem.meeting_id) == meeting.id).values(notified_at=None)
            )
            await uow.ledger.append("meeting_moved", f"meeting:{meeting.id}",
                                    {"by": moderator.id, "from": moved_from.isoformat(),
                                     "starts_at": starts_at.isoformat()}, at=now)
        placed = await _place_accepted(uow, meeting, now)
        posted = False
        if starts_at - now <= AGENDA_LEAD:
            posted = await _post_agenda(uow, meeting, notices, now)
        await _notify_items(uow, meeting, notices, now, moved=told_before)
        return Scheduled(meeting, moved_from, placed, posted)


async def cancel(
    db: Database, community_id: int, actor: Actor, notices: Notices, now: datetime | None = None
) -> Meeting:
    """Cancel the meeting ahead; its matters wait for the next one (their proposers are told)."""
    now = now or utcnow()
    async with db.uow() as uow:
        await _lock_community(uow, community_id)
        moderator = await directory.require_moderator(uow, actor, community_id, power=Power.MEETINGS)
        meeting = await next_meeting(uow, community_id, now, lock=True)
        if meeting is None or meeting.id is None:
            raise NotFound("no meeting ahead", what="meeting")
        done = await uow.session.execute(
            update(Meeting).where(col(Meeting.id) == meeting.id, col(Meeting.status) == "scheduled")
            .values(status="cancelled")
        )
        if not rowcount(done):
            raise IllegalTransition(meeting.status, "cancel")
        meeting.status = "cancelled"
        await uow.ledger.append("meeting_cancelled", f"meeting:{meeting.id}",
                                {"by": moderator.id, "starts_at": meeting.starts_at.isoformat()}, at=now)
        text = _("The council meeting on {when} was cancelled.", when=when(meeting.starts_at, notices.tz))
        if meeting.agenda_posted_at is not None:
            await _post_rooms(uow, meeting, notices, f"meeting-cancelled:{meeting.id}", text)
        told = await uow.session.execute(
            select(MeetingItem, Proposal, Member)
            .join(Proposal, col(Proposal.id) == col(MeetingItem.proposal_id))
            .join(Member, col(Member.id) == col(Proposal.author_member_id))
            .where(col(MeetingItem.meeting_id) == meeting.id, col(MeetingItem.notified_at).is_not(None))
        )
        for item, proposal, member in told:
            if ProposalState(proposal.state) in DROPPED:
                continue
            await _tell(uow, member, notices, f"meeting-cancelled:{meeting.id}:item:{item.id}",
                        _("The council meeting on {when} was cancelled. Your proposal #{id} {title} stays on the "
                          "agenda for the next meeting.", when=when(meeting.starts_at, notices.tz),
                          id=proposal.id, title=proposal.title))
        return meeting


async def place_accepted(uow: UnitOfWork, proposal: Proposal, now: datetime, notices: Notices | None = None) -> bool:
    """Put a just-accepted matter on the next meeting, inside the accepting unit of work.

    Without ``notices`` the proposer's message waits for the ``meeting-notices`` job.
    """
    await _lock_community(uow, proposal.community_id)
    meeting = await next_meeting(uow, proposal.community_id, now)
    if meeting is None:
        return False
    placed = await _place(uow, meeting, [proposal], now)
    if placed and notices is not None:
        await _notify_items(uow, meeting, notices, now)
    return placed > 0


async def notify_pending(db: Database, meeting_id: int, notices: Notices, now: datetime | None = None) -> int:
    """Tell the proposers not told yet (a job catching up on matters placed without notices)."""
    now = now or utcnow()
    async with db.uow() as uow:
        meeting = await uow.session.get(Meeting, meeting_id)
        if meeting is None or meeting.status != "scheduled" or meeting.starts_at <= now:
            return 0
        return await _notify_items(uow, meeting, notices, now)


async def post_agenda(db: Database, meeting_id: int, notices: Notices, now: datetime | None = None) -> bool:
    """Post the agenda in every bound room of the community, once (the job the day before)."""
    now = now or utcnow()
    async with db.uow() as uow:
        meeting = await uow.session.get(Meeting, meeting_id)
        if meeting is None or meeting.status != "scheduled" or meeting.starts_at <= now:
            return False
        if now < meeting.starts_at - AGENDA_LEAD - timedelta(minutes=10):
            return False  # a stale job from before the meeting was moved later
        return await _post_agenda(uow, meeting, notices, now)


# --- inside a unit of work --------------------------------------------------------------------------


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


async def _close_past(uow: UnitOfWork, community_id: int, now: datetime) -> None:
    past = (
        await uow.session.execute(
            select(Meeting).where(col(Meeting.community_id) == community_id, col(Meeting.status) == "scheduled",
                                  col(Meeting.starts_at) <= now).with_for_update()
        )
    ).scalars().all()
    for meeting in past:
        meeting.status = "held"
        await uow.ledger.append("meeting_held", f"meeting:{meeting.id}",
                                {"starts_at": meeting.starts_at.isoformat()}, at=now)


async def _place_accepted(uow: UnitOfWork, meeting: Meeting, now: datetime) -> int:
    accepted = (
        await uow.session.execute(
            select(Proposal)
            .where(col(Proposal.community_id) == meeting.community_id, col(Proposal.state) == str(ProposalState.AGENDA))
            .order_by(col(Proposal.state_changed_at), col(Proposal.id))  # the order of acceptance
        )
    ).scalars().all()
    return await _place(uow, meeting, accepted, now)


async def _place(uow: UnitOfWork, meeting: Meeting, proposals: Sequence[Proposal], now: datetime) -> int:
    assert meeting.id is not None
    last = (
        await uow.session.execute(
            select(func.max(col(MeetingItem.position))).where(col(MeetingItem.meeting_id) == meeting.id)
        )
    ).scalar_one()
    position = int(last or 0)
    placed = 0
    for proposal in proposals:
        added = await uow.insert_ignore(
            MeetingItem,
            {"meeting_id": meeting.id, "proposal_id": proposal.id, "position": position + 1, "added_at": now},
            ("meeting_id", "proposal_id"),
        )
        if added:
            position += 1
            placed += 1
            await uow.ledger.append("meeting_item_added", f"meeting:{meeting.id}",
                                    {"proposal": proposal.id, "position": position}, at=now)
    return placed


async def _notify_items(
    uow: UnitOfWork, meeting: Meeting, notices: Notices, now: datetime, *, moved: set[int] | None = None
) -> int:
    """Tell each proposer not yet told for this meeting time; an addendum for rooms that saw the agenda."""
    assert meeting.id is not None
    rows = (
        await uow.session.execute(
            select(MeetingItem, Proposal, Member)
            .join(Proposal, col(Proposal.id) == col(MeetingItem.proposal_id))
            .join(Member, col(Member.id) == col(Proposal.author_member_id))
            .where(col(MeetingItem.meeting_id) == meeting.id, col(MeetingItem.notified_at).is_(None))
            .order_by(col(MeetingItem.position))
        )
    ).all()
    told = 0
    moment = when(meeting.starts_at, notices.tz)
    posted = await _posted_agenda(uow, meeting) if rows else None
    for item, proposal, member in rows:
        if ProposalState(proposal.state) in DROPPED:
            continue
        claimed = await uow.session.execute(
            update(MeetingItem).where(col(MeetingItem.id) == item.id, col(MeetingItem.notified_at).is_(None))
            .values(notified_at=now)
        )
        if not rowcount(claimed):
            continue  # told by a concurrent step
        told += 1
        text = (
            _("The council meeting was moved to {when}. Your proposal #{id} {title} will be discussed then.",
              when=moment, id=proposal.id, title=proposal.title)
            if moved and item.id in moved
            else _("Your proposal #{id} {title} is on the agenda of the council meeting on {when}.",
                   when=moment, id=proposal.id, title=proposal.title)
        )
        await _tell(uow, member, notices, f"meeting-item:{item.id}:{_epoch(meeting.starts_at)}", text)
        if posted is not None and proposal.id not in posted:
            await _post_rooms(uow, meeting, notices, f"meeting-addendum:{item.id}:{_epoch(meeting.starts_at)}",
                              _("Added to the agenda of the council meeting on {when}: #{id} {title}",
                                when=moment, id=proposal.id, title=proposal.title))
    return told


async def _posted_agenda(uow: UnitOfWork, meeting: Meeting) -> set[int] | None:
    """The matters in the agenda as posted in the rooms for the meeting's current time (None: not posted)."""
    if meeting.agenda_posted_at is None:
        return None
    entries = [e for e in await uow.ledger.for_subject(f"meeting:{meeting.id}") if e.event == "meeting_agenda_posted"]
    return set(json.loads(entries[-1].payload)["items"]) if entries else set()


async def _post_agenda(uow: UnitOfWork, meeting: Meeting, notices: Notices, now: datetime) -> bool:
    assert meeting.id is not None
    claimed = await uow.session.execute(
        update(Meeting)
        .where(col(Meeting.id) == meeting.id, col(Meeting.status) == "scheduled",
               col(Meeting.agenda_posted_at).is_(None), col(Meeting.starts_at) == meeting.starts_at)
        .values(agenda_posted_at=now)
    )
    if not rowcount(claimed):
        return False
    items = await agenda_items(uow, meeting.id)
    rooms = await _post_rooms(uow, meeting, notices, f"meeting-agenda:{meeting.id}:{_epoch(meeting.starts_at)}",
                              agenda_text(meeting, items, notices.tz))
    meeting.agenda_posted_at = now
    await uow.ledger.append("meeting_agenda_posted", f"meeting:{meeting.id}",
                            {"items": [item.proposal.id for item in items], "rooms": rooms}, at=now)
    return True


async def _post_rooms(uow: UnitOfWork, meeting: Meeting, notices: Notices, key: str, text: Text) -> int:
    """Queue ``text`` in every bound room of the meeting's community (every scope overlaps "all")."""
    return len(await post_in_rooms(uow, notices.i18n, meeting.community_id, "all", text, key))


async def _tell(uow: UnitOfWork, member: Member, notices: Notices, key: str, text: Text) -> None:
    if not member.reachable:
        return
    locale = member.locale or normalize_locale(member.language_code, notices.i18n.default_locale)
    await enqueue_text(uow, platform=member.platform, chat_id=member.external_id,
                       text=notices.i18n.render(text, locale), dedupe_key=key, chat_kind="private",
                       member_id=member.id, priority=Priority.NOTICE)

