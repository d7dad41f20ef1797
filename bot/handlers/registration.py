"""Getting started: /start (with deep links), /register, /me, /lang, /help, /pending."""

from __future__ import annotations

import contextlib
import re

from bot.chat.port import Action, ButtonPress, Sender
from bot.deliberation.errors import NeedsConfirmation
from bot.handlers.aliases import code, keywords_of
from bot.handlers.callbacks import ChooseRole, Decide, pack
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context, Refusal
from bot.handlers.council_notice import ROLE_NAMES, decision_actions, pending_line, tell_about_request
from bot.handlers.render import LANGUAGE_NAMES, join
from bot.handlers.votes import open_private_ballot
from bot.handlers.wiring import Features
from bot.i18n import Text, _, member_locale
from bot.services import directory, registration
from bot.services.census import redeem_code
from bot.services.rooms import set_room_locale
from bot.storage import members as member_store
from bot.storage.communities import all_communities

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()

DEEP_ID_RE = re.compile(r"[0-9]{1,9}")
HOME_RE = re.compile(r"^[0-9A-Za-z]{1,8}-[0-9A-Za-z]{1,8}-[0-9A-Za-z]{1,8}$")


@registry.command("start", summary=_("Welcome and what to do next"), usage=_("/start"), where="private")
async def start(ctx: Context, args: str) -> None:
    if args.startswith("reg_"):
        await _redeem(ctx, args.removeprefix("reg_"))
        return
    if args.startswith("vote_"):
        vote_id = args.removeprefix("vote_")
        if not DEEP_ID_RE.fullmatch(vote_id):  # ASCII digits that fit the id column, nothing else
            raise Refusal(_("This link is not valid."))
        await open_private_ballot(ctx, int(vote_id))
        return
    if args:
        raise Refusal(_("This link is not valid."))
    await ctx.reply(
        _(
            "Welcome to Yishi, where neighbours raise matters, co-sign them onto the agenda and "
            "vote under the real rules.\n\nFirst link your home:\n"
            "• with the invite code from your notice: /register ABCD-2345\n"
            "• or by room, for a moderator to approve: /register 3-2-501\n\n"
            "Then, in your building's group: /propose, /proposals, /support. /help lists everything."
        )
    )


async def _redeem(ctx: Context, code: str) -> None:
    linked = await redeem_code(ctx.app.db, ctx.sender.platform, ctx.sender.user_id, code, ctx.sender.display_name)
    await ctx.reply(
        _(
            "Welcome! You are now registered as the owner of {home}.",
            home=f"{linked.building}-{linked.unit}-{linked.room}",
        )
    )


@registry.command(
    "register",
    where="private",
    summary=_("Link your home (invite code, or building-unit-room)"),
    usage=_("/register ABCD-2345 (invite code) or /register 3-2-501 (building-unit-room)"),
)
async def register(ctx: Context, args: str) -> None:
    if not args:
        raise UsageError()
    if HOME_RE.match(args):
        candidate = await registration.find_home(ctx.app.db, args)
        home = candidate.home
        await ctx.reply(
            _("Are you the owner or a resident of {home}?", home=home.label),
            [
                [
                    Action(ctx.t(_("Owner")), data=pack(ChooseRole(home.id, "o"))),
                    Action(ctx.t(_("Resident")), data=pack(ChooseRole(home.id, "r"))),
                ]
            ],
        )
        return
    await _redeem(ctx, args)


async def choose_role(ctx: Context, home_id: int, role: str) -> None:
    """After /register 3-2-501: record the request and tell the moderators' queue."""
    requested = await registration.request_link(
        ctx.app.db, await ctx.actor(), home_id, role,
        on_requested=lambda uow, req, now: tell_about_request(uow, ctx.app.i18n, req, now),
    )
    await ctx.toast(_("Request sent."))
    await ctx.reply(
        _(
            "Thank you. Your request (#{id}, as {role}) waits for a moderator's approval; I will tell you here.",
            id=requested.link_id,
            role=ROLE_NAMES[role],
        )
    )


@registry.command("me", summary=_("What you are registered as"), usage=_("/me"))
async def me(ctx: Context, args: str) -> None:
    async with ctx.app.db.uow() as uow:
        member = await uow.member(ctx.sender.platform, ctx.sender.user_id, ctx.sender.display_name)
        communities = await all_communities(uow)
        lines: list[Text | str] = []
        for community in communities:
            assert community.id is not None
            for link in await directory.verified_links(uow, member.id or 0, community.id):
                lines.append(
                    _(
                        "{community}: {home} as {role}",
                        community=community.name,
                        home=link.home.label,
                        role=ROLE_NAMES[link.role],
                    )
                )
        council = await member_store.council_community_names(uow, member.id or 0)
    if not lines:
        lines.append(_("You have not linked a home yet. Send /register."))
    for name in council:
        lines.append(_("Council member (moderator) of {community}", community=name))
    lines.append(_("Language: {locale}. Change it with /lang zh or /lang en.",
                   locale=LANGUAGE_NAMES.get(ctx.locale, ctx.locale)))
    await ctx.reply(join(lines))


@registry.command("lang", summary=_("Choose your language: zh or en"), usage=_("/lang zh|en"))
async def lang(ctx: Context, args: str) -> None:
    choice = code("languages", args)
    if not ctx.private:
        await _room_lang(ctx, choice, args)
        return
    if choice is None:
        raise UsageError()
    await registration.set_locale(ctx.app.db, await ctx.actor(), choice)
    ctx.locale = choice
    await ctx.reply(_("Language set to English.") if choice == "en" else _("Language set to Chinese."))


async def _room_lang(ctx: Context, choice: str | None, args: str) -> None:
    """In a group: the room's language, set by a council member (mandate.Power.ROOM_LANGUAGE)."""
    room = await ctx.require_room()
    assert room.id is not None
    if not args.strip():
        current = await ctx.room_locale()
        await ctx.reply(_("This room's language is English.") if current == "en"
                        else _("This room's language is Chinese."))
        return
    if not await ctx.is_moderator(room.community_id):
        raise Refusal(_("Only moderators of the residents' council can do that."))
    if choice is None:
        raise UsageError()
    await set_room_locale(ctx.app.db, room.id, await ctx.actor(room.community_id), choice)
    ctx._room_loaded = False  # re-read: the announcement below is in the new language
    await ctx.reply(_("This room's language is now English.") if choice == "en"
                    else _("This room's language is now Chinese."), public=True)


@registry.command("help", summary=_("The commands you can use here"), usage=_("/help"))
async def help_(ctx: Context, args: str) -> None:
    room = await ctx.room()
    moderator = await ctx.is_moderator(room.community_id) if room else await is_council_anywhere(ctx)
    lines: list[Text | str] = [_("Commands:")]
    for spec in ctx.app.features.commands.visible(private=ctx.private, moderator=moderator):
        words = keywords_of(spec.name)
        if words:
            lines.append(_("{usage} — {summary} (or: {words})", usage=spec.usage, summary=spec.summary,
                           words=" / ".join(words)))
        else:
            lines.append(_("{usage} — {summary}", usage=spec.usage, summary=spec.summary))
    lines.append(_("Every command also works by its Chinese keyword, with or without the slash, e.g. {example}.",
                   example=f"{(keywords_of('support') or ('support',))[0]} 3"))
    await ctx.reply(join(lines))


async def is_council_anywhere(ctx: Context) -> bool:
    async with ctx.app.db.uow() as uow:
        member = await member_store.find(uow, ctx.sender.platform, ctx.sender.user_id)
        if member is None or member.id is None:
            return False
        return await member_store.on_any_council(uow, member.id)


async def council_communities(ctx: Context) -> list[int]:
    """The communities on whose council the sender sits (a chat admin status counts for nothing)."""
    async with ctx.app.db.uow() as uow:
        member = await uow.member(ctx.sender.platform, ctx.sender.user_id, ctx.sender.display_name)
        return await directory.council_communities(uow, member.id or 0)


@registry.command(
    "pending", where="private", moderator=True, summary=_("Registrations waiting for approval"), usage=_("/pending")
)

async def pending(ctx: Context, args: str) -> None:
    # Only in private: a request names a person next to a home, which a group room must not see.
    links: list[registration.PendingLink] = []
    actor = await ctx.actor()
    for community_id in await council_communities(ctx):
        links.extend(await registration.pending_links(ctx.app.db, community_id, viewer=actor))
    if not links:
        await ctx.reply(_("No registrations are waiting."))
        return
    for link in links:
        actions = decision_actions(link, ctx.t)
        await ctx.reply(pending_line(link), [actions] if actions else [])


def _edits_one_request(ctx: Context, link_id: int) -> bool:
    """A /pending message is redrawn after a press; a bundled notice with other requests' buttons is kept."""
    if not ctx.pressed_message_id or not isinstance(ctx.event, ButtonPress):
        return False
    ids = {data.split(":")[2] for data in ctx.event.buttons or () if data.startswith("v1:ap:")}
    return ids <= {str(link_id)}


async def decide(ctx: Context, link_id: int, approve: bool, *, confirm: bool = False) -> None:
    pressed = ctx.pressed_message_id
    try:
        decided = await registration.decide_link(ctx.app.db, link_id, await ctx.actor(), approve, confirm=confirm)
    except NeedsConfirmation:
        # The home has a verified owner: one more, explicit press (the owner was told of the request).
        text = _("This home already has a verified owner. Approve request #{id} anyway?", id=link_id)
        actions = [[Action(ctx.t(_("Confirm approval")), data=pack(Decide(link_id, "c"))),
                    Action(ctx.t(_("Deny #{id}", id=link_id)), data=pack(Decide(link_id, "d")))]]
        await ctx.toast(_("Please confirm: this home already has a verified owner."), alert=True)
        if pressed is not None and _edits_one_request(ctx, link_id):
            await ctx.messenger.edit(ctx.chat.chat_id, pressed, ctx.render(text, actions))
        else:
            await ctx.reply(text, actions)
        return
    verdict = _("approved") if approve else _("denied")
    await ctx.toast(_("Request #{id} {verdict}.", id=link_id, verdict=verdict))
    if pressed is not None and _edits_one_request(ctx, link_id):
        await ctx.messenger.edit(
            ctx.chat.chat_id,
            pressed,
            ctx.render(
                _(
                    "Request #{id} ({home}, {role}): {verdict}.",
                    id=link_id,
                    home=decided.home.label,
                    role=ROLE_NAMES[decided.link.role],
                    verdict=verdict,
                )
            ),
        )
    locale = member_locale(
        decided.member, Sender(decided.member.platform, decided.member.external_id), ctx.app.i18n.default_locale
    )
    message = (
        _(
            "Your registration as {role} of {home} was approved. Welcome!",
            role=ROLE_NAMES[decided.link.role],
            home=decided.home.label,
        )
        if approve
        else _(
            "Your registration for {home} was not approved. Please contact your residents' council.",
            home=decided.home.label,
        )
    )
    if decided.member.platform == ctx.sender.platform:
        # The member may have blocked the bot; the decision stands either way.
        with contextlib.suppress(Exception):
            await ctx.send_private(decided.member.external_id, message, locale)


async def role_pressed(ctx: Context, button: ChooseRole) -> None:
    if not ctx.private:
        raise Refusal(_("This button is no longer valid."))
    await choose_role(ctx, button.home_id, "owner" if button.role == "o" else "resident")


def wire(features: Features) -> None:
    features.add_commands(registry)
    features.button(ChooseRole, role_pressed)
    features.button(Decide, lambda ctx, b: decide(ctx, b.link_id, b.decision in ("a", "c"), confirm=b.decision == "c"))
