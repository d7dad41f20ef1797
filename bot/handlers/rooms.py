"""Binding a group room to a scope of a community: /bind."""

from __future__ import annotations

from bot.deliberation.scope import Scope
from bot.deliberation.text import clean_text
from bot.handlers import aliases
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context, Refusal
from bot.handlers.wiring import Features
from bot.i18n import _
from bot.plain import scope_name
from bot.services.directory import council_communities
from bot.services.rooms import bind_room
from bot.storage.communities import all_communities

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()


@registry.command(
    "bind",
    where="group",
    moderator=True,
    summary=_("Bind this room to the community or a building"),
    usage=_("/bind all | /bind 3 | /bind 3-2"),
)

async def bind(ctx: Context, args: str) -> None:
    if not args:
        raise UsageError()
    scope_text, _sep, community_name = args.partition(" ")
    plain = aliases.scope_text(scope_text)
    if not plain.isascii():
        raise UsageError()  # an unknown word: the usage line shows the forms that work
    scope = Scope.parse(plain)
    community_id = await _community_for(ctx, community_name.strip())
    # Only a council member binds or re-binds a room (and of the community it was bound to: the service
    # checks both); a group's admins cannot, since anyone can create a group.
    if not await ctx.is_moderator(community_id):
        raise Refusal(_("Only moderators of the residents' council can do that."))
    bound = await bind_room(
        ctx.app.db, ctx.chat.platform, ctx.chat.chat_id, ctx.chat.title, community_id, scope, await ctx.actor()
    )
    ctx._room_loaded = False
    await ctx.reply(
        _(
            "This room is now bound to {community}, scope {scope} ({homes} homes).",
            community=bound.community,
            scope=scope_name(str(scope)),
            homes=bound.homes,
        ),
        public=True,
    )


async def _community_for(ctx: Context, name: str) -> int:
    """The named community, the only one, or the one the sender moderates."""
    async with ctx.app.db.uow() as uow:
        communities = await all_communities(uow)
        if name:
            for community in communities:
                if community.name == name and community.id is not None:
                    return community.id
            raise Refusal(_("There is no community named {name}.", name=clean_text(name)[:60]))
        if len(communities) == 1 and communities[0].id is not None:
            return communities[0].id
        member = await uow.member(ctx.sender.platform, ctx.sender.user_id, ctx.sender.display_name)
        mine = await council_communities(uow, member.id or 0)
    if len(mine) == 1:
        return mine[0]
    if not communities:
        raise Refusal(_("No community has been imported yet (yishi census import)."))
    raise Refusal(_("Several communities exist: add the name, e.g. /bind 3-2 {name}.", name=communities[0].name))


def wire(features: Features) -> None:
    features.add_commands(registry)
