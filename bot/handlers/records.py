"""/records <id>: a council member gets the announcement of a vote's result as a PDF, in private."""

from __future__ import annotations

from bot.deliberation.errors import InvalidInput
from bot.handlers.agenda import parse_id
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context, Refusal
from bot.handlers.wiring import Features
from bot.i18n import _
from bot.services import records

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()


@registry.command(
    "records",
    moderator=True,
    summary=_("The announcement of a vote's result as a PDF (council)"),
    usage=_("/records <proposal id>, e.g. /records 12"),
)
async def records_command(ctx: Context, args: str) -> None:
    if not args.strip():
        raise UsageError()
    proposal_id = parse_id(args)
    try:
        document = await records.announcement(ctx.app.db, proposal_id, ctx.app.i18n, ctx.locale, ctx.app.tz,
                                              actor=await ctx.actor())
    except InvalidInput as error:
        if error.params.get("what") != "records":
            raise
        if error.params.get("reason") == "vote_open":
            raise Refusal(_("The vote on #{id} is still open. Its announcement can be made once the vote is closed.",
                            id=proposal_id)) from None
        raise Refusal(_("#{id} has not been put to a vote, so there is no result to announce.",
                        id=proposal_id)) from None
    # Always in private (on Telegram a private chat's id is the user's id): the council's paper, not the room's.
    await ctx.messenger.send_document(ctx.sender.user_id, document.filename, document.content,
                                      ctx.t(_("Announcement of the vote result of #{id}", id=proposal_id)))
    if not ctx.private:
        await ctx.reply(_("I sent you the announcement of #{id} in our private chat.", id=proposal_id))


def wire(features: Features) -> None:
    features.add_commands(registry)
