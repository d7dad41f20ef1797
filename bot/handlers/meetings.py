"""/meeting: the next council meeting and its agenda; moderators schedule, move and cancel it."""

from __future__ import annotations

from bot.deliberation.errors import InvalidInput, NotFound
from bot.handlers.aliases import code
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context, Refusal
from bot.handlers.wiring import Features
from bot.i18n import Text, _
from bot.services import meetings
from bot.storage.models import utcnow
from bot.storage.outbox import split_text

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()

INVALID = {
    "date": _("That date is not valid. Write it as 2026-12-05, or 12-05 for the next 5 December."),
    "time": _("That time is not valid. Write it as 19:30 (24-hour clock)."),
    "past": _("The meeting must be in the future."),
    "far": _("A meeting can be scheduled at most a year ahead."),
    "same": _("The meeting is already at that time."),
}


async def community_of(ctx: Context) -> int:
    """The room's community in a group; in private, the one community on whose council the sender sits."""
    if not ctx.private:
        return (await ctx.require_room()).community_id
    councils = await meetings.council_communities(ctx.app.db, await ctx.actor())
    if not councils:
        raise Refusal(_("Use /meeting in your community's group room (in a private chat it is for council members)."))
    if len(councils) > 1:
        names = ", ".join(c.name for c in councils)
        raise Refusal(_("You sit on the councils of {names}. Use /meeting in a group room of the community you mean.",
                        names=names))
    assert councils[0].id is not None
    return councils[0].id


@registry.command(
    "meeting",
    summary=_("The next council meeting and its agenda"),
    usage=_("/meeting — or, for moderators: /meeting <date> <time> (e.g. /meeting 2026-12-05 19:30), /meeting cancel"),
)

async def meeting(ctx: Context, args: str) -> None:
    community_id = await community_of(ctx)
    words = args.split()
    if not words:
        await _show(ctx, community_id)
        return
    if len(words) == 1 and code("keywords", words[0]) != "cancel" or len(words) > 2:
        raise UsageError()
    await ctx.require_moderator(community_id)  # refused before the date is even read
    notices = meetings.Notices(ctx.app.i18n, ctx.app.tz)
    try:
        if len(words) == 1:
            cancelled = await meetings.cancel(ctx.app.db, community_id, await ctx.actor(community_id), notices)
            ctx.app.replan()
            await ctx.reply(_("The council meeting on {when} was cancelled.",
                              when=meetings.when(cancelled.starts_at, ctx.app.tz)), public=True)
            return
        now = utcnow()
        starts_at = meetings.parse_when(words[0], words[1], ctx.app.tz, now)
        done = await meetings.schedule(ctx.app.db, community_id, await ctx.actor(community_id), starts_at, notices,
                                       now=now)
    except InvalidInput as error:
        if error.params.get("field") != "meeting":
            raise
        raise Refusal(INVALID[str(error.params.get("reason"))]) from None
    except NotFound as error:
        if error.params.get("what") != "meeting":
            raise
        raise Refusal(_("No council meeting is scheduled.")) from None
    ctx.app.replan()
    moment = meetings.when(done.meeting.starts_at, ctx.app.tz)
    lines: list[Text] = [
        _("Council meeting moved from {old} to {new}.", old=meetings.when(done.moved_from, ctx.app.tz), new=moment)
        if done.moved_from is not None
        else _("Council meeting scheduled for {when}.", when=moment),
        _("Matters newly placed on its agenda: {count}. Their proposers are told privately.", count=done.placed),
        _("The agenda was posted in the rooms now.")
        if done.agenda_posted
        else _("The agenda will be posted in the rooms the day before."),
    ]
    await ctx.reply(meetings.join(lines), public=True)


async def _show(ctx: Context, community_id: int) -> None:
    view = await meetings.show(ctx.app.db, community_id)
    if view is None:
        await ctx.reply(_("No council meeting is scheduled. Moderators schedule one with /meeting <date> <time>."))
        return
    # A long agenda goes out in parts under the message limit, cut between lines.
    for part in split_text(ctx.t(meetings.agenda_text(view.meeting, view.items, ctx.app.tz))):
        await ctx.reply(part)


def wire(features: Features) -> None:
    features.add_commands(registry)
