"""The council's waiting work, told in one bundled private notice: registrations to decide and matters
that reached their co-signatures and wait for review. Sent inside the request's transaction (outbox)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.chat.port import Action, OutMessage
from bot.handlers.callbacks import Decide, Review, pack
from bot.handlers.render import join
from bot.i18n import Text, Translator, _, normalize_locale
from bot.services import registration
from bot.storage import members as member_store
from bot.storage import proposals as proposal_store
from bot.storage.models import Community, Member, Proposal
from bot.storage.outbox import Priority, enqueue, latest_for_member, redraw_pending
from bot.storage.uow import UnitOfWork

ROLE_NAMES = {"owner": _("owner"), "resident": _("resident")}
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
    return join(parts)


def decision_actions(link: registration.PendingLink, t: Callable[[Text], str]) -> list[Action]:
    if link.own:
        return []
    return [
        Action(t(_("Approve #{id}", id=link.link_id)), data=pack(Decide(link.link_id, "a"))),
        Action(t(_("Deny #{id}", id=link.link_id)), data=pack(Decide(link.link_id, "d"))),
    ]


# --- telling the council and the home's owner, inside the request's transaction -------------------------

NOTICE_GAP = timedelta(minutes=10)  # at most one bundled notice per council member in this time
NOTICE_ITEMS = 8


async def tell_about_request(uow: UnitOfWork, i18n: Translator, requested: registration.Requested,
                             now: datetime) -> None:
    """Council members hear that a registration waits (bundled); the home's verified owners are told too."""
    assert requested.home is not None and requested.member is not None
    await uow.get(Community, requested.community_id, what="community", lock=True)  # one notice slot at a time
    members = await member_store.council_of(uow, requested.community_id, excluding=requested.member.id)
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
    await uow.flush()  # the matter's new state is read back below
    await uow.get(Community, proposal.community_id, what="community", lock=True)  # one notice slot at a time
    members = await member_store.council_of(uow, proposal.community_id)
    for moderator in members:
        if moderator.reachable:
            await _notice_moderator(uow, i18n, proposal.community_id, moderator, now)


def review_actions(proposal: Proposal, t: Callable[[Text], str]) -> list[Action]:
    assert proposal.id is not None  # a stored matter
    return [
        Action(t(_("Accept #{id}", id=proposal.id)), data=pack(Review(proposal.id, "a"))),
        Action(t(_("Decline #{id}", id=proposal.id)), data=pack(Review(proposal.id, "d"))),
    ]


async def _notice_moderator(uow: UnitOfWork, i18n: Translator, community_id: int, moderator: Member,
                            now: datetime) -> None:
    """The one bundled notice of the council's waiting work: registrations and matters to review."""
    assert moderator.id is not None
    links = [link for link in await registration.pending_in(uow, community_id, NOTICE_ITEMS + 1,
                                                            viewer_id=moderator.id) if not link.own]
    matters = await proposal_store.in_review(uow, community_id, NOTICE_ITEMS + 1)
    if not links and not matters:
        return
    locale = moderator.locale or normalize_locale(moderator.language_code, i18n.default_locale)

    def t(text: Text) -> str:
        return i18n.render(text, locale)

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
    latest = await latest_for_member(uow, moderator.id, prefix)
    # Not sent yet: the waiting notice is redrawn with every request (one bundled notice).
    if (latest is not None and latest.status == "pending" and latest.id is not None
            and await redraw_pending(uow, latest.id, message)):
        return
    slot = now
    if latest is not None:
        slot = max(now, (latest.sent_at or latest.not_before) + NOTICE_GAP)
    await enqueue(uow, platform=moderator.platform, chat_id=moderator.external_id, message=message,
                  dedupe_key=f"{prefix}{int(slot.timestamp())}", chat_kind="private", member_id=moderator.id,
                  priority=Priority.NOTICE, not_before=slot)
