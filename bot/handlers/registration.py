"""Getting started: /start (with deep links), /register, /me, /lang, /help, /pending."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.deliberation.errors import NeedsConfirmation
from bot.handlers.callbacks import encode
from bot.handlers.commands import UsageError, registry
from bot.handlers.context import Context, Refusal
from bot.handlers.types import Action, ButtonPress, OutMessage
from bot.i18n import Text, Translator, _, normalize_locale
from bot.outbox.queue import Priority, enqueue
from bot.outbox.queue import encode as encode_payload
from bot.services import directory, registration
from bot.services.census import redeem_code
from bot.storage.models import Community, CouncilRole, Member, OutboxMessage, Proposal
from bot.storage.uow import UnitOfWork

DEEP_ID_RE = re.compile(r"[0-9]{1,9}")
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
                    Action(ctx.t(_("Owner")), data=encode("rg", home.id, "o")),
                    Action(ctx.t(_("Resident")), data=encode("rg", home.id, "r")),
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
    from bot.handlers.render import LANGUAGE_NAMES

    lines.append(_("Language: {locale}. Change it with /lang zh or /lang en.",
                   locale=LANGUAGE_NAMES.get(ctx.locale, ctx.locale)))
    await ctx.reply(join(lines))


@registry.command("lang", summary=_("Choose your language: zh or en"), usage=_("/lang zh|en"))
async def lang(ctx: Context, args: str) -> None:
    from bot.handlers.aliases import code

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
    from bot.services.rooms import set_room_locale

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
    from bot.handlers.aliases import keywords_of
    from bot.handlers.render import join

    lines: list[Text | str] = [_("Commands:")]
    for spec in registry.visible(private=ctx.private, moderator=moderator):
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


async def council_communities(ctx: Context) -> list[int]:
    """The communities on whose council the sender sits (a chat admin status counts for nothing)."""
    async with ctx.app.db.uow() as uow:
        member = await uow.member(ctx.sender.platform, ctx.sender.user_id, ctx.sender.display_name)
        return await directory.council_communities(uow, member.id or 0)


FLAG = _("This home already has a verified owner: approving needs a second confirmation.")


def pending_line(link: registration.PendingLink) -> Text:
    line = _(
        "Request #{id}: {name} asks to be {role} of {home}.",
        id=link.link_id,
        name=link.member.display_name or link.member.external_id,
        role=ROLE_NAMES[link.role],
        home=link.home.label,
    )
    parts: list[Text | str] = [line]
    if link.owner_verified:
        parts.append(FLAG)
    if link.own:
        parts.append(_("Your own request, or a home you are linked to: another council member decides."))
    from bot.handlers.render import join

    return join(parts)


def decision_actions(link: registration.PendingLink, t: Callable[[Text], str]) -> list[Action]:
    if link.own:
        return []
    return [
        Action(t(_("Approve #{id}", id=link.link_id)), data=encode("ap", link.link_id, "a")),
        Action(t(_("Deny #{id}", id=link.link_id)), data=encode("ap", link.link_id, "d")),
    ]


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


# --- telling the council and the home's owner, inside the request's transaction -------------------------

NOTICE_GAP = timedelta(minutes=10)  # at most one bundled notice per council member in this time
NOTICE_ITEMS = 8


async def tell_about_request(uow: UnitOfWork, i18n: Translator, requested: registration.Requested,
                             now: datetime) -> None:
    """Council members hear that a registration waits (bundled); the home's verified owners are told too."""
    assert requested.home is not None and requested.member is not None
    await uow.get(Community, requested.community_id, what="community", lock=True)  # one notice slot at a time
    members = (await uow.session.execute(
        select(Member).join(CouncilRole, CouncilRole.member_id == Member.id)  # type: ignore[arg-type]
        .where(CouncilRole.community_id == requested.community_id, Member.id != requested.member.id)
        .order_by(Member.id))).scalars().all()
    for moderator in members:
        if moderator.reachable:
            await _notice_moderator(uow, i18n, requested.community_id, moderator, now)
    for owner in requested.owners:
        if not owner.reachable:
            continue
        locale = owner.locale or normalize_locale(owner.language_code, i18n.default_locale)
        text = _(
            "{name} asked to be registered as {role} of {home}, where you are the verified owner. The council "
            "must confirm it explicitly. If this is not right, tell your residents' council.",
            name=requested.member.display_name or requested.member.external_id,
            role=ROLE_NAMES[requested.role],
            home=requested.home.label,
        )
        await enqueue(uow, platform=owner.platform, chat_id=owner.external_id,
                      message=OutMessage(i18n.render(text, locale)[:4096]),
                      dedupe_key=f"reg-owner-told:{requested.link_id}:{owner.id}:{int(now.timestamp())}",
                      chat_kind="private", member_id=owner.id, priority=Priority.NOTICE)


async def tell_about_threshold(uow: UnitOfWork, i18n: Translator, proposal: Proposal, now: datetime) -> None:
    """A matter reached its co-signatures: the community's council members hear that a review waits, in the
    same bundled notice as registrations (at most one per member per NOTICE_GAP)."""
    await uow.session.flush()  # the matter's new state is read back below
    await uow.get(Community, proposal.community_id, what="community", lock=True)  # one notice slot at a time
    members = (await uow.session.execute(
        select(Member).join(CouncilRole, CouncilRole.member_id == Member.id)  # type: ignore[arg-type]
        .where(CouncilRole.community_id == proposal.community_id).order_by(Member.id))).scalars().all()
    for moderator in members:
        if moderator.reachable:
            await _notice_moderator(uow, i18n, proposal.community_id, moderator, now)


def review_actions(proposal: Proposal, t: Callable[[Text], str]) -> list[Action]:
    return [
        Action(t(_("Accept #{id}", id=proposal.id)), data=encode("rv", proposal.id, "a")),
        Action(t(_("Decline #{id}", id=proposal.id)), data=encode("rv", proposal.id, "d")),
    ]


async def _notice_moderator(uow: UnitOfWork, i18n: Translator, community_id: int, moderator: Member,
                            now: datetime) -> None:
    """The one bundled notice of the council's waiting work: registrations and matters to review."""
    assert moderator.id is not None
    links = [link for link in await registration.pending_in(uow, community_id, NOTICE_ITEMS + 1,
                                                            viewer_id=moderator.id) if not link.own]
    matters = (await uow.session.execute(
        select(Proposal).where(Proposal.community_id == community_id, Proposal.state == "review")
        .order_by(Proposal.id).limit(NOTICE_ITEMS + 1))).scalars().all()  # type: ignore[arg-type]
    if not links and not matters:
        return
    locale = moderator.locale or normalize_locale(moderator.language_code, i18n.default_locale)

    def t(text: Text) -> str:
        return i18n.render(text, locale)

    from bot.handlers.render import join

    lines: list[Text | str] = []
    rows: list[list[Action]] = []
    if links:
        lines.append(_("Registrations wait for the council's decision:"))
        for link in links[:NOTICE_ITEMS]:
            lines.append(pending_line(link))
            rows.append(decision_actions(link, t))
        if len(links) > NOTICE_ITEMS:
            lines.append(_("More are waiting: send /pending."))
    if matters:
        lines.append(_("Matters reached their co-signatures and wait for the council's review:"))
        for matter in matters[:NOTICE_ITEMS]:
            lines.append(_("#{id} {title}", id=matter.id, title=matter.title))
            rows.append(review_actions(matter, t))
        if len(matters) > NOTICE_ITEMS:
            lines.append(_("More matters wait for review."))
    message = OutMessage(t(join(lines))[:4096], tuple(tuple(row) for row in rows if row))
    prefix = f"reg-waiting:{moderator.id}:"
    latest = (await uow.session.execute(
        select(OutboxMessage).where(OutboxMessage.member_id == moderator.id,
                                    OutboxMessage.dedupe_key.startswith(prefix))  # type: ignore[union-attr]
        .order_by(OutboxMessage.id.desc()).limit(1))).scalar_one_or_none()  # type: ignore[union-attr]
    if latest is not None and latest.status == "pending":
        # Not sent yet: the waiting notice is redrawn with every request (one bundled notice).
        done = await uow.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == latest.id, OutboxMessage.status == "pending")
            .values(payload=encode_payload(message)))
        if done.rowcount:  # type: ignore[attr-defined]
            return
    slot = now
    if latest is not None:
        slot = max(now, (latest.sent_at or latest.not_before) + NOTICE_GAP)
    await enqueue(uow, platform=moderator.platform, chat_id=moderator.external_id, message=message,
                  dedupe_key=f"{prefix}{int(slot.timestamp())}", chat_kind="private", member_id=moderator.id,
                  priority=Priority.NOTICE, not_before=slot)


def _edits_one_request(ctx: Context, link_id: int) -> bool:
    """A /pending message is redrawn after a press; a bundled notice with other requests' buttons is kept."""
    if not ctx.pressed_message_id or not isinstance(ctx.event, ButtonPress):
        return False
    ids = {data.split(":")[2] for data in ctx.event.buttons or () if data.startswith("v1:ap:")}
    return ids <= {str(link_id)}


async def decide(ctx: Context, link_id: int, approve: bool, *, confirm: bool = False) -> None:
    try:
        decided = await registration.decide_link(ctx.app.db, link_id, await ctx.actor(), approve, confirm=confirm)
    except NeedsConfirmation:
        # The home has a verified owner: one more, explicit press (the owner was told of the request).
        text = _("This home already has a verified owner. Approve request #{id} anyway?", id=link_id)
        actions = [[Action(ctx.t(_("Confirm approval")), data=encode("ap", link_id, "c")),
                    Action(ctx.t(_("Deny #{id}", id=link_id)), data=encode("ap", link_id, "d"))]]
        await ctx.toast(_("Please confirm: this home already has a verified owner."), alert=True)
        if _edits_one_request(ctx, link_id):
            await ctx.messenger.edit(ctx.chat.chat_id, ctx.pressed_message_id, ctx.render(text, actions))
        else:
            await ctx.reply(text, actions)
        return
    verdict = _("approved") if approve else _("denied")
    await ctx.toast(_("Request #{id} {verdict}.", id=link_id, verdict=verdict))
    if _edits_one_request(ctx, link_id):
        await ctx.messenger.edit(
            ctx.chat.chat_id,
            ctx.pressed_message_id,
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


async def review(ctx: Context, proposal_id: int, accept: bool) -> None:
    """Accept or decline from the council's notice (the services check the mandate again)."""
    if not accept:
        # A decline needs a public reason, which a button cannot carry.
        await ctx.toast(_("To decline #{id}, send /decline {id} <reason> in its room: the reason is published.",
                          id=proposal_id), alert=True)
        return
    from bot.handlers.agenda import touch_card
    from bot.services import agenda
    from bot.services.meetings import Notices

    proposal = await agenda.accept(ctx.app.db, proposal_id, await ctx.actor(),
                                   notices=Notices(ctx.app.i18n, ctx.app.tz))
    ctx.app.replan()  # it may have joined a meeting's agenda
    touch_card(ctx, proposal.id)  # its cards in the rooms show the decision, edited in place
    await ctx.toast(_("#{id} {title} is on the agenda.", id=proposal.id, title=proposal.title))
