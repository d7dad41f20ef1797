"""Digests in the chat: /digest for a room (moderators) or for oneself, and what a digest looks like."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import datetime, tzinfo
from functools import cache
from importlib import resources
from typing import Any

from bot.deliberation.errors import InvalidInput, NotEligible
from bot.deliberation.text import clean_text
from bot.deliberation.thresholds import progress_bar
from bot.handlers import render
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context, Refusal
from bot.handlers.errors import state_name
from bot.handlers.votes import REASON_NAMES, STATUS_NAMES
from bot.handlers.wiring import Features
from bot.i18n import Text, _
from bot.plain import scope_name
from bot.services import digests
from bot.services.digests import Changes, Item, Schedule
from bot.storage.models import DigestSubscription

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()

WEEKDAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))


@cache
def words() -> dict[str, dict[str, Any]]:
    """Weekday, cadence and target words in every language (bot/handlers/weekdays.toml)."""
    data = tomllib.loads(resources.files("bot.handlers").joinpath("weekdays.toml").read_text(encoding="utf-8"))
    return {section: {k.lower(): v for k, v in table.items()} for section, table in data.items()}


def parse_weekday(text: str) -> int:
    day = words()["weekdays"].get(text.strip().lower())
    if day is None:
        raise Refusal(_("Unknown day {day}. Use mon, tue, wed, thu, fri, sat or sun.", day=clean_text(text)[:20]))
    return int(day)


def parse_time(text: str) -> str:
    try:
        return digests.parse_time(text)
    except InvalidInput:
        raise Refusal(_("Unknown time {time}. Write it as HH:MM, e.g. 20:00.", time=clean_text(text)[:20])) from None


def parse_schedule(tokens: list[str]) -> Schedule | None:
    """``daily [HH:MM]``, ``weekly <day> [HH:MM]`` or ``off`` (None)."""
    if not tokens:
        raise UsageError()
    cadence = words()["cadences"].get(tokens[0].lower())
    rest = tokens[1:]
    if cadence is None:
        raise UsageError()
    if cadence == "off":
        if rest:
            raise UsageError()
        return None
    weekday = None
    if cadence == "weekly":
        if not rest:
            raise Refusal(_("Say which day, e.g. /digest weekly mon 09:00."))
        weekday, rest = parse_weekday(rest[0]), rest[1:]
    if len(rest) > 1:
        raise UsageError()
    at_time = parse_time(rest[0]) if rest else digests.DEFAULT_TIME
    return Schedule(cadence, at_time, weekday)


def describe(subscription: DigestSubscription | Schedule) -> Text:
    if isinstance(subscription, DigestSubscription):
        subscription = digests.schedule_of(subscription)
    if subscription.weekday is None:
        return _("daily at {time}", time=subscription.at_time)
    return _("weekly on {day} at {time}", day=WEEKDAY_NAMES[subscription.weekday], time=subscription.at_time)


USAGE = _(
    "/digest — the current setting; /digest daily [HH:MM] | /digest weekly <mon..sun> [HH:MM] | /digest off "
    "(a room's digest, moderators); /digest me daily [HH:MM] | /digest me weekly <mon..sun> [HH:MM] | "
    "/digest me off (your private digest)"
)



@registry.command("digest", summary=_("Scheduled digest of what changed"), usage=USAGE)
async def digest(ctx: Context, args: str) -> None:
    tokens = args.split()
    mine = ctx.private or (bool(tokens) and words()["targets"].get(tokens[0].lower()) == "me")
    if tokens and words()["targets"].get(tokens[0].lower()) == "me":
        tokens = tokens[1:]
    if mine:
        await _member_digest(ctx, tokens)
    else:
        await _room_digest(ctx, tokens)


async def _room_digest(ctx: Context, tokens: list[str]) -> None:
    room = await ctx.require_room()
    assert room.id is not None
    if not tokens:
        current = await digests.room_digest(ctx.app.db, room.id)
        if current is None:
            await ctx.reply(_("This room has no digest. A moderator can set one: /digest daily 20:00."))
        else:
            await ctx.reply(_("This room's digest: {schedule}.", schedule=describe(current)))
        return
    # Refused before the arguments are looked at, like every moderator command. A room's own admins may
    # set its digest (mandate.POWERS: their only power); the service checks again.
    if not (await ctx.is_moderator(room.community_id) or await ctx.is_chat_admin()):
        raise Refusal(_("Only council members and this room's admins can change the room's digest."))
    schedule = parse_schedule(tokens)
    if schedule is None:
        cleared = await digests.clear_room_digest(ctx.app.db, room.id, await ctx.actor(room.community_id))
        if cleared:
            ctx.app.replan()
        await ctx.reply(_("This room's digest is off.") if cleared else _("This room has no digest."), public=cleared)
        return
    await digests.set_room_digest(ctx.app.db, room.id, await ctx.actor(room.community_id), schedule)
    ctx.app.replan()
    await ctx.reply(
        _("This room will get a digest {schedule}, when something changed.", schedule=describe(schedule)),
        public=True,
    )


async def _member_digest(ctx: Context, tokens: list[str]) -> None:
    actor = await ctx.actor()
    if not tokens:
        current = await digests.member_digests(ctx.app.db, actor)
        if not current:
            await ctx.reply(_("You have no private digest. Start one with /digest me daily 20:00."))
            return
        lines: list[Text | str] = [
            _("Your digest for {community}: {schedule}.", community=d.community, schedule=describe(d.subscription))
            for d in current
        ]
        await ctx.reply(render.join(lines))
        return
    schedule = parse_schedule(tokens)
    if schedule is None:
        count = await digests.clear_member_digest(ctx.app.db, actor)
        if count:
            ctx.app.replan()
        await ctx.reply(_("Your private digest is off.") if count else _("You have no private digest."))
        return
    try:
        subscribed = await digests.set_member_digest(ctx.app.db, actor, schedule)
    except NotEligible as error:
        if error.params.get("reason") == "not_registered":
            raise Refusal(_("Register your home first (/register), then you can get a digest.")) from None
        raise
    ctx.app.replan()
    await ctx.reply(
        render.join(
            [
                _(
                    "You will get a private digest for {community} {schedule}, when something changed.",
                    community=d.community,
                    schedule=describe(schedule),
                )
                for d in subscribed
            ]
        )
    )


# --- the digest itself --------------------------------------------------------------------------------


def _line(item: Item) -> Text:
    p = item.proposal
    if p.state == "collecting":
        return _(
            "#{id} {title} — {bar} {have}/{need}",
            id=p.id,
            title=p.title,
            bar=progress_bar(item.supports, p.support_threshold),
            have=item.supports,
            need=p.support_threshold,
        )
    return _("#{id} {title} — {state}", id=p.id, title=p.title, state=state_name(p.state))


def _result(item: Item) -> list[Text | str]:
    vote, p = item.vote, item.proposal
    assert vote is not None
    result = vote.result or item.payload.get("result") or {}
    verdict = _("PASSED") if result.get("passed") else _("NOT PASSED")
    lines: list[Text | str] = [_("#{id} {title}: {verdict}", id=p.id, title=p.title, verdict=verdict)]
    if "winners" in result:
        lines.append(render.winners_line(result))
    if "eligible" in result:
        lines.append(render.participation_line(result))
    return lines


def _objection(item: Item) -> Text:
    p, payload = item.proposal, item.payload
    if item.event == "objection_recorded":
        return _(
            "#{id} {title}: objection #{objection} recorded ({reason}, floor {floor})",
            id=p.id,
            title=p.title,
            objection=payload.get("objection"),
            reason=REASON_NAMES.get(str(payload.get("reason")), str(payload.get("reason"))),
            floor=payload.get("floor"),
        )
    if item.event == "objection_updated":
        return _(
            "#{id} {title}: objection #{objection} is now {status}",
            id=p.id,
            title=p.title,
            objection=payload.get("objection"),
            status=STATUS_NAMES.get(str(payload.get("to")), str(payload.get("to"))),
        )
    return _(
        "#{id} {title}: the objection period ended with {blocking} objections open; it is {state}",
        id=p.id,
        title=p.title,
        blocking=payload.get("blocking", 0),
        state=state_name(str(payload.get("proposal_state", p.state))),
    )


def _progress(item: Item) -> Text:
    p, note = item.proposal, str(item.payload.get("note") or "")
    if item.event == "implementation_done":
        if note:
            return _("#{id} {title}: done. {note}", id=p.id, title=p.title, note=note)
        return _("#{id} {title}: done.", id=p.id, title=p.title)
    return _("#{id} {title}: {note}", id=p.id, title=p.title, note=note)


def _evaluation(item: Item) -> Text:
    p, counts = item.proposal, item.payload.get("counts") or {}
    return _("#{id} {title}: satisfied {s}, basically satisfied {b}, not satisfied {u}", id=p.id, title=p.title,
             s=counts.get("satisfied", 0), b=counts.get("basic", 0), u=counts.get("unsatisfied", 0))


def digest_text(
    changes: Changes,
    tz: tzinfo,
    *,
    heading: Text,
    standings: dict[int, dict[str, Any]] | None = None,
    extra: Sequence[Text | str] = (),
) -> Text | None:
    """The digest as one text (the outbox splits it), or None when nothing changed.

    ``extra``: a last section of lines (the council's monthly request rates), which alone makes a digest.
    """
    if changes.empty() and not extra:
        return None
    standings = standings or {}
    lines: list[Text | str] = [heading]

    def section(title: Text, items: list[Item], line: Any) -> None:
        if not items:
            return
        lines.append("")
        lines.append(title)
        for item in items:
            out = line(item)
            lines.extend(out if isinstance(out, list) else [out])

    section(_("New proposals:"), changes.new, _line)
    section(_("Close to the co-signature threshold:"), changes.near, _line)
    section(_("Agenda changes:"), changes.agenda, _agenda_line)
    section(_("Votes opened:"), changes.opened, lambda i: _vote_line(i, tz))
    section(_("Votes closing within 48 hours:"), changes.closing, lambda i: _closing(i, tz, standings))
    section(_("Results:"), changes.results, _result)
    section(_("Objections:"), changes.objections, _objection)
    section(_("Implementation:"), changes.progress, _progress)
    section(_("Residents' evaluation of completed matters:"), changes.evaluations, _evaluation)
    if extra:
        lines.append("")
        lines.extend(extra)
    return render.join(lines)


def _agenda_line(item: Item) -> list[Text | str]:
    lines: list[Text | str] = [_line(item)]
    if item.proposal.state == "declined" and item.proposal.reason:
        lines.append(_("Reason: {reason}", reason=item.proposal.reason))
    return lines


def _vote_line(item: Item, tz: tzinfo) -> Text:
    assert item.vote is not None
    return _(
        "#{id} {title}: {kind}, closes {deadline}",
        id=item.proposal.id,
        title=item.proposal.title,
        kind=render.KIND_NAMES.get(item.vote.kind, item.vote.kind),
        deadline=render.when(item.vote.closes_at, tz),
    )


def _closing(item: Item, tz: tzinfo, standings: dict[int, dict[str, Any]]) -> list[Text | str]:
    assert item.vote is not None and item.vote.id is not None
    lines: list[Text | str] = [
        _(
            "#{id} {title}: closes {deadline}",
            id=item.proposal.id,
            title=item.proposal.title,
            deadline=render.when(item.vote.closes_at, tz),
        )
    ]
    standing = standings.get(item.vote.id)
    if standing is not None:
        lines.extend(render.turnout_lines(item.vote, standing))
    return lines


def heading(audience: digests.Audience, since: datetime | None, tz: tzinfo) -> Text:
    if audience.room is not None:
        scope: Text | str = audience.community if str(audience.scope) == "all" else _(
            "{community}, {scope}", community=audience.community, scope=scope_name(str(audience.scope)))
        if since is None:
            return _("Digest for {scope}", scope=scope)
        return _("Digest for {scope}, changes since {since}", scope=scope, since=render.when(since, tz))
    if since is None:
        return _("Your digest for {community}", community=audience.community)
    return _(
        "Your digest for {community}, changes since {since}", community=audience.community,
        since=render.when(since, tz),
    )


def wire(features: Features) -> None:
    features.add_commands(registry)
