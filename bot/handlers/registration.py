"""Getting started: /start (with deep links), /register, /me, /lang, /help, /pending."""

from __future__ import annotations

import contextlib
import re

from sqlalchemy import select

from bot.handlers.callbacks import encode
from bot.handlers.commands import UsageError, registry
from bot.handlers.context import Context, Refusal
from bot.handlers.types import Action
from bot.i18n import Text, _
from bot.services import directory, registration
from bot.services.census import redeem_code
from bot.storage.models import Community, CouncilRole, Member

HOME_RE = re.compile(r"^[0-9A-Za-z]{1,8}-[0-9A-Za-z]{1,8}-[0-9A-Za-z]{1,8}$")
ROLE_NAMES = {"owner": _("owner"), "resident": _("resident")}


@registry.command("start", summary=_("Welcome and what to do next"), usage=_("/start"), where="private")
async def start(ctx: Context, args: str) -> None:
    if args.startswith("reg_"):
        await _redeem(ctx, args.removeprefix("reg_"))
        return
    if args.startswith("vote_"):
        from bot.handlers.votes import open_private_ballot

        vote_id = args.removeprefix("vote_")
        if not vote_id.isdigit():
            raise Refusal(_("This link is not valid."))
        await open_private_ballot(ctx, int(vote_id))
        return
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
                    Action(ctx.t(_("Owner")), data=encode("rg", home.id, "o")),
                    Action(ctx.t(_("Resident")), data=encode("rg", home.id, "r")),
                ]
            ],
        )
        return
    await _redeem(ctx, args)


async def choose_role(ctx: Context, home_id: int, role: str) -> None:
    """After /register 3-2-501: record the request and tell the moderators' queue."""
    requested = await registration.request_link(ctx.app.db, await ctx.actor(), home_id, role)
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
        communities = (await uow.session.execute(select(Community))).scalars().all()
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
        council = (
            (
                await uow.session.execute(
                    select(Community.name)
                    .join(CouncilRole, CouncilRole.community_id == Community.id)
                    .where(  # type: ignore[arg-type]
                        CouncilRole.member_id == member.id
                    )
                )
            )
            .scalars()
            .all()
        )
    from bot.handlers.render import join

    if not lines:
        lines.append(_("You have not linked a home yet. Send /register."))
    for name in council:
        lines.append(_("Council member (moderator) of {community}", community=name))
    lines.append(_("Language: {locale}. Change it with /lang zh or /lang en.", locale=ctx.locale))
    await ctx.reply(join(lines))


@registry.command("lang", summary=_("Choose your language: zh or en"), usage=_("/lang zh|en"))
async def lang(ctx: Context, args: str) -> None:
    choice = {"zh": "zh_CN", "zh_cn": "zh_CN", "cn": "zh_CN", "\u4e2d\u6587": "zh_CN", "en": "en", "english": "en"}.get(
        args.strip().lower()
    )
    if choice is None:
        raise UsageError()
    await registration.set_locale(ctx.app.db, await ctx.actor(), choice)
    ctx.locale = choice
    await ctx.reply(_("Language set to English.") if choice == "en" else _("Language set to Chinese."))


@registry.command("help", summary=_("The commands you can use here"), usage=_("/help"))
async def help_(ctx: Context, args: str) -> None:
    room = await ctx.room()
    moderator = await ctx.is_moderator(room.community_id) if room else await is_council_anywhere(ctx)
    from bot.handlers.render import join

    lines: list[Text | str] = [_("Commands:")]
    for spec in registry.visible(private=ctx.private, moderator=moderator):
        lines.append(_("{usage} — {summary}", usage=spec.usage, summary=spec.summary))
    await ctx.reply(join(lines))


async def is_council_anywhere(ctx: Context) -> bool:
    async with ctx.app.db.uow() as uow:
        member = (
            await uow.session.execute(
                select(Member).where(Member.platform == ctx.sender.platform, Member.external_id == ctx.sender.user_id)
            )
        ).scalar_one_or_none()
        if member is None:
            return False
        return (
            await uow.session.execute(select(CouncilRole.id).where(CouncilRole.member_id == member.id))
        ).first() is not None


async def moderator_community(ctx: Context) -> int:
    """The community a moderator acts for: the room's, else their council's (private chat)."""
    room = await ctx.room()
    if room is not None:
        await ctx.require_moderator(room.community_id)
        return room.community_id
    async with ctx.app.db.uow() as uow:
        member = await uow.member(ctx.sender.platform, ctx.sender.user_id, ctx.sender.display_name)
        community_id = (
            (
                await uow.session.execute(
                    select(CouncilRole.community_id).where(CouncilRole.member_id == member.id).order_by(CouncilRole.id)
                )
            )
            .scalars()
            .first()
        )
    if community_id is None:
        raise Refusal(_("Only moderators of the residents' council can do that."))
    return community_id


@registry.command("pending", moderator=True, summary=_("Registrations waiting for approval"), usage=_("/pending"))
async def pending(ctx: Context, args: str) -> None:
    community_id = await moderator_community(ctx)
    links = await registration.pending_links(ctx.app.db, community_id)
    if not links:
        await ctx.reply(_("No registrations are waiting."))
        return
    for link in links:
        await ctx.reply(
            _(
                "Request #{id}: {name} asks to be {role} of {home}.",
                id=link.link_id,
                name=link.member.display_name or link.member.external_id,
                role=ROLE_NAMES[link.role],
                home=link.home.label,
            ),
            [
                [
                    Action(ctx.t(_("Approve")), data=encode("ap", link.link_id, "a")),
                    Action(ctx.t(_("Deny")), data=encode("ap", link.link_id, "d")),
                ]
            ],
        )


async def decide(ctx: Context, link_id: int, approve: bool) -> None:
    decided = await registration.decide_link(ctx.app.db, link_id, await ctx.actor(), approve)
    verdict = _("approved") if approve else _("denied")
    await ctx.toast(_("Request #{id} {verdict}.", id=link_id, verdict=verdict))
    if ctx.event.message_id:
        await ctx.messenger.edit(
            ctx.chat.chat_id,
            ctx.event.message_id,
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
    from bot.handlers.context import member_locale
    from bot.handlers.types import Sender

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
