"""/nudges: a member turns their private vote reminders on or off."""

from __future__ import annotations

from bot.handlers.aliases import argument
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context
from bot.handlers.wiring import Features
from bot.i18n import _

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()


@registry.command(
    "nudges",
    where="private",
    summary=_("Private reminders of votes you have not cast: on or off"),
    usage=_("/nudges on|off"),
)

async def nudges(ctx: Context, args: str) -> None:
    choice = argument("switches", args, ("on", "off")) if args.strip() else ""
    if choice not in ("", "on", "off"):
        raise UsageError()
    async with ctx.app.db.uow() as uow:
        member = await uow.member(ctx.sender.platform, ctx.sender.user_id, ctx.sender.display_name)
        if choice:
            member.nudges = choice == "on"
        enabled = member.nudges
    if enabled:
        await ctx.reply(_("Vote reminders in private are on: at most one a day, never in quiet hours. "
                          "Send /nudges off to stop them."))
    else:
        await ctx.reply(_("Vote reminders in private are off. Send /nudges on to get them again."))


def wire(features: Features) -> None:
    features.add_commands(registry)
