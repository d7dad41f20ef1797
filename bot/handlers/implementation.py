"""Implementation in the chat: /progress notes and completes an adopted matter (moderators)."""

from __future__ import annotations

from bot.handlers.agenda import parse_id
from bot.handlers.aliases import code
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context
from bot.handlers.followers import after_progress
from bot.handlers.wiring import Features
from bot.i18n import _
from bot.services.implementation import record_progress

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()


@registry.command(
    "progress",
    moderator=True,
    summary=_("Record implementation progress of an adopted matter"),
    usage=_("/progress <id> <what was done> | /progress <id> done [note]"),
)

async def progress(ctx: Context, args: str) -> None:
    number, _sep, note = args.strip().partition(" ")
    if not number:
        raise UsageError()
    proposal_id = parse_id(number)
    first, _sep, rest = note.strip().partition(" ")
    done = code("keywords", first) == "done"
    if done:
        note = rest
    elif not note.strip():
        raise UsageError()
    outcome = await record_progress(ctx.app.db, proposal_id, await ctx.actor(), note, done=done)
    p = outcome.proposal
    if outcome.done:
        text = (
            _("#{id} {title} is done. {note}", id=p.id, title=p.title, note=outcome.note)
            if outcome.note
            else _("#{id} {title} is done.", id=p.id, title=p.title)
        )
    elif outcome.started:
        text = _("Implementation of #{id} {title} has started: {note}", id=p.id, title=p.title, note=outcome.note)
    else:
        text = _("Progress on #{id} {title}: {note}", id=p.id, title=p.title, note=outcome.note)
    await ctx.reply(text, public=True)
    await after_progress(ctx, p, text, outcome.done)  # private notes to followers; evaluation when done


def wire(features: Features) -> None:
    features.add_commands(registry)
