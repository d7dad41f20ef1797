"""The agenda in the chat: /propose, /support, /proposals, /show, and the moderators' review."""

from __future__ import annotations

import itertools
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.chat.port import Action, OutMessage
from bot.deliberation.errors import NotFound
from bot.deliberation.scope import Scope
from bot.deliberation.thresholds import progress_bar
from bot.handlers import aliases, render
from bot.handlers.callbacks import Page, Review, SubmitDraft, Support, SupportSimilar, pack
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context, Refusal
from bot.handlers.council_notice import tell_about_threshold
from bot.handlers.errors import state_name
from bot.handlers.live import Host, LiveKind, Post
from bot.handlers.wiring import Features
from bot.i18n import Text, _
from bot.services import agenda
from bot.services.meetings import Notices
from bot.storage import proposals as proposal_store
from bot.storage import votes as vote_store
from bot.storage.models import Proposal, utcnow
from bot.storage.rooms import room_languages
from bot.storage.uow import UnitOfWork

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()

PAGE = 5
CATEGORIES = ("elevator", "environment", "parking", "safety", "property_management", "other")
# English codes and the Chinese words of aliases.toml, longest first so that a longer word wins.
_CATEGORY_WORDS = sorted({*CATEGORIES, *aliases.words().tables["categories"]}, key=len, reverse=True)
_CATEGORY_PREFIX = re.compile(
    r"^\s*\[?(" + "|".join(map(re.escape, _CATEGORY_WORDS)) + r")\]?\s*[:\uff1a]\s*", re.IGNORECASE
)
_ELEVATOR_WORDS = ("\u7535\u68af", "elevator", "lift")  # dianti, the Chinese word
ID_RE = re.compile(r"^#?(\d{1,9})$")


@dataclass(frozen=True, slots=True)
class Draft:
    community_id: int
    scope: str
    title: str
    body: str
    category: str
    user_id: str
    chat_id: str = ""  # the room the card goes to, wherever the author presses "submit"
    locale: str = ""  # that room's language


class Drafts:
    """Proposals held back while their author looks at similar ones (in memory: a stale button just says so)."""

    def __init__(self, size: int = 1000) -> None:
        self._items: OrderedDict[int, Draft] = OrderedDict()
        self._ids = itertools.count(1)
        self._size = size

    def put(self, draft: Draft) -> int:
        key = next(self._ids)
        self._items[key] = draft
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return key

    def take(self, key: int) -> Draft | None:
        return self._items.pop(key, None)


drafts = Drafts()


def parse_id(text: str) -> int:
    match = ID_RE.match(text.strip())
    if match is None:
        raise Refusal(_("Give the proposal number, e.g. 12."))
    return int(match.group(1))


def split_proposal(args: str, reply_text: str | None) -> tuple[str, str, str]:
    """Title on the first line, body on the following ones (or the replied-to message); category prefix optional."""
    lines = args.split("\n", 1)
    title, body = lines[0].strip(), (lines[1].strip() if len(lines) > 1 else "")
    if not body and reply_text:
        body = reply_text.strip()
    if not title and body:
        title, _sep, body = body.partition("\n")
        title, body = title.strip(), body.strip()
    category = "other"
    match = _CATEGORY_PREFIX.match(title)
    if match:
        word = match.group(1).lower()
        category = word if word in CATEGORIES else aliases.words().tables["categories"][word]
        title = title[match.end() :].strip()
    elif any(word in (title + body).lower() for word in _ELEVATOR_WORDS):
        category = "elevator"
    return title, body, category


@registry.command(
    "propose",
    where="group",
    summary=_("Raise a matter for your neighbours to co-sign"),
    usage=_("/propose <title> (details on the next lines)"),
)
async def propose(ctx: Context, args: str) -> None:
    room = await ctx.require_room()
    title, body, category = split_proposal(
        args, ctx.event.reply_to_text if hasattr(ctx.event, "reply_to_text") else None
    )
    if not title:
        raise UsageError()
    if category == "elevator" and Scope.parse(room.scope).level.value != "unit":
        category = "other"  # an elevator belongs to one building unit's room
    submission = await agenda.propose(
        ctx.app.db, room.community_id, await ctx.actor(), title, body, scope=room.scope, category=category
    )
    if submission.proposal is None:
        key = drafts.put(Draft(room.community_id, room.scope, title, body, category, ctx.sender.user_id,
                               ctx.chat.chat_id, await ctx.room_locale()))
        lines: list[Text | str] = [_("Similar open proposals already exist. Support one of them instead?")]
        actions: list[list[Action]] = []
        for similar, _score in submission.similar:
            assert similar.id is not None  # a stored matter
            lines.append(_("#{id} {title}", id=similar.id, title=similar.title))
            actions.append([Action(ctx.t(_("Support #{id}", id=similar.id)), data=pack(SupportSimilar(similar.id)))])
        actions.append([Action(ctx.t(_("Submit mine anyway")), data=pack(SubmitDraft(key)))])
        await ctx.reply(render.join(lines), actions)
        return
    ctx.app.replan()  # its collecting window
    await post_card(ctx, submission.proposal, submission.supports)


# --- proposal cards: a live message (bot/handlers/live.py), refreshed from the database -------------

CARD = "card"
# A matter whose state changed this recently may have missed its card's edit in a crash: refreshed
# at start-up with the ones still collecting co-signatures or in review.
RECENTLY_CHANGED = timedelta(days=1)


async def _card_posts(app: Host, proposal_ids: list[int], platform: str) -> list[Post]:
    async with app.db.uow(readonly=True) as uow:
        rows = await proposal_store.card_posts(uow, proposal_ids, platform)
        rooms = await room_languages(uow, platform, (r.chat_id for r in rows), app.i18n.default_locale)
        return [Post(CARD, r.proposal_id, r.platform, r.chat_id, r.message_id, rooms.get(r.chat_id, r.locale))
                for r in rows]


async def _render_card(app: Host, post: Post) -> OutMessage | None:
    try:
        proposal, supports = await agenda.get_proposal(app.db, post.subject_id)
    except NotFound:
        return None

    def t(text: Text | str) -> str:
        return app.i18n.render(text, post.locale)

    actions = render.support_actions(proposal, t)
    return OutMessage(t(render.proposal_card(proposal, supports, app.tz))[:4096], tuple(tuple(r) for r in actions))


async def _cards_to_refresh(app: Host) -> list[int]:
    since = utcnow() - RECENTLY_CHANGED
    async with app.db.uow(readonly=True) as uow:
        return await proposal_store.with_cards_changed(uow, since)


CARDS = LiveKind(CARD, _card_posts, _render_card, _cards_to_refresh)


def touch_card(ctx: Context, *proposal_ids: int | None) -> None:
    """The matter changed: its cards are refreshed from the database (coalesced, at sending time)."""
    for proposal_id in proposal_ids:
        if proposal_id is not None:
            ctx.app.live.touch(CARD, proposal_id, ctx.messenger)


async def remember_card(ctx: Context, proposal_id: int, message_id: str, *, adopt: bool = False,
                        locale: str | None = None, chat_id: str | None = None) -> None:
    """Record where a card of the matter was posted. ``adopt``: the pressed message turns into the card
    (a /show answer, an offer of similar matters, a card from before cards were recorded), unless it
    already is another live message (a forged button must not turn a ballot into a card)."""
    locale = locale or (ctx.locale if ctx.private else await ctx.room_locale())
    async with ctx.app.db.uow() as uow:
        if adopt and await vote_store.is_ballot_message(uow, ctx.chat.platform, ctx.chat.chat_id, message_id):
            return
        await proposal_store.add_card(uow, proposal_id, ctx.chat.platform, chat_id or ctx.chat.chat_id, message_id,
                                      locale, utcnow())


async def post_card(ctx: Context, proposal: Proposal, supports: int, draft: Draft | None = None) -> None:
    assert proposal.id is not None
    if draft is not None and draft.chat_id and draft.chat_id != ctx.chat.chat_id:
        # Submitted from the offer the author got in private: the card goes to the room it was proposed in.
        def t(text: Text | str) -> str:
            return ctx.app.i18n.render(text, draft.locale)

        card = OutMessage(t(render.proposal_card(proposal, supports, ctx.app.tz))[:4096],
                          tuple(tuple(r) for r in render.support_actions(proposal, t)))
        posted = await ctx.messenger.send(draft.chat_id, card)
        await remember_card(ctx, proposal.id, posted.message_id, locale=draft.locale, chat_id=draft.chat_id)
        return
    sent = await ctx.reply(
        render.proposal_card(proposal, supports, ctx.app.tz), render.support_actions(proposal, await ctx.public_t()),
        public=True,
    )
    assert sent is not None
    await remember_card(ctx, proposal.id, sent.message_id, locale=await ctx.room_locale())


async def submit_draft(ctx: Context, key: int) -> None:
    draft = drafts.take(key)
    if draft is None or draft.user_id != ctx.sender.user_id:
        raise Refusal(_("This button is no longer valid."))
    submission = await agenda.propose(
        ctx.app.db,
        draft.community_id,
        await ctx.actor(),
        draft.title,
        draft.body,
        scope=draft.scope,
        category=draft.category,
        force=True,
    )
    assert submission.proposal is not None
    ctx.app.replan()  # its collecting window
    await ctx.toast(_("Submitted."))
    await post_card(ctx, submission.proposal, submission.supports, draft)


def support_message(outcome: agenda.SupportOutcome) -> Text:
    p = outcome.proposal
    if not outcome.added:
        return _("You (or your household) already co-signed #{id}.", id=p.id)
    if outcome.reached:
        return _(
            "Co-signed. #{id} reached {need} co-signatures and goes to the council for review.",
            id=p.id,
            need=p.support_threshold,
        )
    return _("Co-signed #{id}: {have}/{need}.", id=p.id, have=outcome.supports, need=p.support_threshold)


@registry.command("support", summary=_("Co-sign a proposal"), usage=_("/support <id>"))
async def support(ctx: Context, args: str) -> None:
    outcome = await agenda.support(ctx.app.db, parse_id(args), await ctx.actor(), on_reached=_tell_council(ctx))
    await ctx.reply(support_message(outcome))
    if outcome.added:
        touch_card(ctx, outcome.proposal.id)


def _tell_council(ctx: Context) -> Callable[[UnitOfWork, Proposal, datetime], Awaitable[None]]:
    return lambda uow, proposal, now: tell_about_threshold(uow, ctx.app.i18n, proposal, now)


async def press_support(ctx: Context, proposal_id: int) -> None:
    outcome = await agenda.support(ctx.app.db, proposal_id, await ctx.actor(), on_reached=_tell_council(ctx))
    await ctx.toast(support_message(outcome))
    if outcome.added:
        # Never this press's own snapshot: presses finish in any order, so the card is rendered from
        # the database when its edit goes out (bot/handlers/live.py). Only a press the platform showed
        # on a message carrying this very button adopts that message as the card.
        pressed = ctx.pressed_message_id
        if pressed:
            await remember_card(ctx, proposal_id, pressed, adopt=True)
        touch_card(ctx, proposal_id)


@registry.command("proposals", where="group", summary=_("Open matters in this room's scope"), usage=_("/proposals"))
async def proposals(ctx: Context, args: str) -> None:
    text, actions = await proposals_page(ctx, 0)
    await ctx.reply(text, actions, public=True)


async def proposals_page(ctx: Context, page: int) -> tuple[Text, list[list[Action]]]:
    room = await ctx.require_room()
    room_scope = Scope.parse(room.scope)
    items = [
        (p, n)
        for p, n in await agenda.open_proposals(ctx.app.db, room.community_id)
        if _within(Scope.parse(p.scope), room_scope)
    ]
    if not items:
        return _("No open proposals here yet. Start one with /propose."), []
    pages = (len(items) + PAGE - 1) // PAGE
    page = min(max(page, 0), pages - 1)
    lines: list[Text | str] = [_("Open proposals ({page}/{pages}):", page=page + 1, pages=pages)]
    for p, supports in items[page * PAGE : (page + 1) * PAGE]:
        if p.state == "collecting":
            lines.append(
                _(
                    "#{id} {title} — {bar} {have}/{need}",
                    id=p.id,
                    title=p.title,
                    bar=progress_bar(supports, p.support_threshold),
                    have=supports,
                    need=p.support_threshold,
                )
            )
        else:
            lines.append(_("#{id} {title} — {state}", id=p.id, title=p.title, state=state_name(p.state)))
    nav: list[Action] = []
    if page > 0:
        nav.append(Action("◀", data=pack(Page(page - 1))))
    if page < pages - 1:
        nav.append(Action("▶", data=pack(Page(page + 1))))
    return render.join(lines), [nav] if nav else []


def _within(inner: Scope, outer: Scope) -> bool:
    if outer.level.value == "community":
        return True
    if inner.level.value == "community":
        return False
    if outer.level.value == "building":
        return inner.building == outer.building
    return inner == outer


HISTORY = {
    "proposal_submitted": _("submitted"),
    "support_added": _("co-signed ({supports})"),
    "threshold_reached": _("reached the threshold ({supports})"),
    "proposal_accepted": _("accepted onto the agenda"),
    "proposal_declined": _("declined: {reason}"),
    "proposal_merged": _("merged into #{into}"),
    "proposal_withdrawn": _("withdrawn by the author"),
    "proposal_expired": _("expired with {supports}/{threshold} co-signatures"),
    "vote_opened": _("vote #{vote} opened ({kind}), closes {closes_at}"),
    "vote_closed": _("vote #{vote} closed"),
    "objection_recorded": _("objection #{objection} recorded ({reason}, floor {floor})"),
    "objection_updated": _("objection #{objection}: {to}"),
    "objection_period_ended": _("objection period ended, {blocking} objections open"),
    "implementation_progress": _("implementation: {note}"),
    "implementation_done": _("implementation done {note}"),
}


def _plain_codes(event: str, params: dict[str, Any]) -> dict[str, Any]:
    """History entries store codes (a vote kind, an objection reason or status): show their plain names."""
    plain: dict[str, Any] = {}
    if "kind" in params:
        plain["kind"] = render.kind_name(str(params["kind"]))
    if event == "objection_recorded" and "reason" in params:  # a declined matter's reason is free text
        plain["reason"] = render.REASON_NAMES.get(str(params["reason"]), str(params["reason"]))
    if event == "objection_updated" and "to" in params:
        plain["to"] = render.STATUS_NAMES.get(str(params["to"]), str(params["to"]))
    return plain


@registry.command("show", summary=_("One proposal with its history"), usage=_("/show <id>"))
async def show(ctx: Context, args: str) -> None:
    proposal_id = parse_id(args)
    proposal, supports = await agenda.get_proposal(ctx.app.db, proposal_id)
    await ctx.require_member_of(proposal.community_id)
    async with ctx.app.db.uow() as uow:
        entries = await uow.ledger.for_subject(f"proposal:{proposal_id}")
    lines: list[Text | str] = [render.proposal_card(proposal, supports, ctx.app.tz), _("History:")]
    for entry in entries[-15:]:
        payload = json.loads(entry.payload)
        template = HISTORY.get(entry.event)
        if template is None:
            continue
        params: dict[str, Any] = {k: v for k, v in payload.items() if isinstance(v, str | int)}
        params.update(_plain_codes(entry.event, params))
        if "closes_at" in params:
            from datetime import datetime

            params["closes_at"] = render.when(datetime.fromisoformat(str(params["closes_at"])), ctx.app.tz)
        lines.append(
            _(
                "{when} {what}",
                when=render.when(entry.at, ctx.app.tz),
                what=Text(
                    template.msgid,
                    {
                        **{
                            k: ""
                            for k in (
                                "reason",
                                "into",
                                "supports",
                                "threshold",
                                "vote",
                                "kind",
                                "closes_at",
                                "objection",
                                "floor",
                                "to",
                                "blocking",
                                "note",
                            )
                        },
                        **params,
                    },
                ),
            )
        )
    await ctx.reply(render.join(lines), render.support_actions(proposal, ctx.t))


@registry.command("accept", moderator=True, summary=_("Put a reviewed proposal on the agenda"), usage=_("/accept <id>"))
async def accept(ctx: Context, args: str) -> None:
    proposal = await agenda.accept(ctx.app.db, parse_id(args), await ctx.actor(),
                                   notices=Notices(ctx.app.i18n, ctx.app.tz))
    ctx.app.replan()  # it may have joined a meeting's agenda
    touch_card(ctx, proposal.id)
    await ctx.reply(_("#{id} {title} is on the agenda.", id=proposal.id, title=proposal.title), public=True)


@registry.command(
    "decline", moderator=True, summary=_("Decline a proposal with a public reason"), usage=_("/decline <id> <reason>")
)
async def decline(ctx: Context, args: str) -> None:
    number, _sep, reason = args.partition(" ")
    if not reason.strip():
        raise UsageError()
    proposal = await agenda.decline(ctx.app.db, parse_id(number), await ctx.actor(), reason)
    ctx.app.replan()
    touch_card(ctx, proposal.id)
    await ctx.reply(
        _("#{id} {title} was declined. Reason: {reason}", id=proposal.id, title=proposal.title, reason=proposal.reason),
        public=True,
    )


@registry.command(
    "merge", moderator=True, summary=_("Merge a duplicate into another proposal"), usage=_("/merge <id> <into-id>")
)

async def merge(ctx: Context, args: str) -> None:
    parts = args.split(maxsplit=2)
    if len(parts) < 2:
        raise UsageError()
    proposal = await agenda.merge(
        ctx.app.db, parse_id(parts[0]), parse_id(parts[1]), await ctx.actor(), parts[2] if len(parts) > 2 else ""
    )
    ctx.app.replan()
    touch_card(ctx, proposal.id, proposal.merged_into_id)  # the co-signatures moved to the other card
    await ctx.reply(
        _(
            "#{id} was merged into #{into}; its co-signatures carried over.",
            id=proposal.id,
            into=proposal.merged_into_id,
        ),
        public=True,
    )


@registry.command("withdraw", summary=_("Withdraw your own proposal"), usage=_("/withdraw <id>"))
async def withdraw(ctx: Context, args: str) -> None:
    proposal = await agenda.withdraw_proposal(ctx.app.db, parse_id(args), await ctx.actor())
    ctx.app.replan()
    touch_card(ctx, proposal.id)
    await ctx.reply(_("#{id} was withdrawn.", id=proposal.id), public=True)


async def turn_page(ctx: Context, button: Page) -> None:
    text, actions = await proposals_page(ctx, button.page)
    await ctx.toast(_("Page {n}", n=button.page + 1))
    if ctx.pressed_message_id:
        await ctx.messenger.edit(ctx.chat.chat_id, ctx.pressed_message_id, ctx.render(text, actions))


async def review(ctx: Context, proposal_id: int, accept: bool) -> None:
    """Accept or decline from the council's notice (the services check the mandate again)."""
    if not accept:
        # A decline needs a public reason, which a button cannot carry.
        await ctx.toast(_("To decline #{id}, send /decline {id} <reason> in its room: the reason is published.",
                          id=proposal_id), alert=True)
        return
    proposal = await agenda.accept(ctx.app.db, proposal_id, await ctx.actor(),
                                   notices=Notices(ctx.app.i18n, ctx.app.tz))
    ctx.app.replan()  # it may have joined a meeting's agenda
    touch_card(ctx, proposal.id)  # its cards in the rooms show the decision, edited in place
    await ctx.toast(_("#{id} {title} is on the agenda.", id=proposal.id, title=proposal.title))


def wire(features: Features) -> None:
    features.add_commands(registry)
    features.live_kind(CARDS)
    features.button(Support, lambda ctx, button: press_support(ctx, button.proposal_id))
    features.button(SupportSimilar, lambda ctx, button: press_support(ctx, button.proposal_id))
    features.button(SubmitDraft, lambda ctx, button: submit_draft(ctx, button.key))
    features.button(Page, turn_page, edit_only=True)
    features.button(Review, lambda ctx, button: review(ctx, button.proposal_id, button.decision == "a"))
