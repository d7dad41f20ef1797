"""/web: a personal, one-use sign-in link to the residents' web pages (bot/web), valid 15 minutes."""

from __future__ import annotations

from dataclasses import replace

from bot.handlers.commands import Registry
from bot.handlers.context import Context
from bot.handlers.wiring import Features
from bot.i18n import _
from bot.services import web

registry = Registry()


@registry.command("web", where="private", summary=_("A sign-in link to the web pages"), usage=_("/web"))
async def web_link(ctx: Context, args: str) -> None:
    base = ctx.app.web_base_url
    if not base:
        await ctx.reply(_("The web pages are not set up for this bot."))
        return
    token = await web.issue_signin(ctx.app.db, await ctx.actor())
    link = ctx.render(_("Your personal sign-in link (valid 15 minutes, works once; do not forward it):\n{link}",
                        link=f"{base}/s/{token}"))
    # Private only (where="private"): sent straight to this chat, and kept out of the outbox's stored rows.
    await ctx.messenger.send(ctx.chat.chat_id, replace(link, secret=True))


def wire(features: Features) -> None:
    features.add_commands(registry)
