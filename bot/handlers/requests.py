"""Residents' requests in the chat, handled on the clock: /report, /myreports, handlers' commands, ratings.

Everything happens in private chats: a request names a person and a home, shown only to its author,
its party's handlers and the council.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from fractions import Fraction

from bot.chat.port import Action, IncomingMessage, MessengerError, OutMessage, Photo, Sender
from bot.deliberation import requests as rules
from bot.deliberation.errors import DomainError
from bot.deliberation.requests import RATING_CODES, Rating, RequestAction
from bot.handlers import aliases, errors, render
from bot.handlers.callbacks import AdoptSuggestion, RateRequest, Support, pack
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context, Refusal
from bot.handlers.wiring import Features
from bot.i18n import Text, Translator, _, member_locale
from bot.services import requests as service
from bot.services.requests import Notice, category_name, number, rating_name, state_name

log = logging.getLogger(__name__)

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()


def rating_actions(i18n: Translator, locale: str, request_id: int) -> list[list[Action]]:
    labels = (("s", _("Satisfied")), ("b", _("Basically satisfied")), ("u", _("Not satisfied")))
    return [[Action(i18n.render(label, locale), data=pack(RateRequest(request_id, code))) for code, label in labels]]


def notice_message(i18n: Translator, notice: Notice) -> tuple[str, list[list[Action]]]:
    member = notice.member
    locale = member_locale(member, Sender(member.platform, member.external_id), i18n.default_locale)
    actions = rating_actions(i18n, locale, notice.rate) if notice.rate is not None else []
    return i18n.render(notice.text, locale)[:4096], actions


async def send_notices(ctx: Context, notices: Sequence[Notice]) -> None:
    for notice in notices:
        text, actions = notice_message(ctx.app.i18n, notice)
        try:
            await ctx.messenger.send(notice.member.external_id,
                                     OutMessage(text, tuple(tuple(row) for row in actions)))
        except MessengerError:  # one unreachable member must not cost the others their notice
            log.warning("could not send a request notice to member %s", notice.member.id)
            continue
        if notice.photos:
            member = notice.member
            locale = member_locale(member, Sender(member.platform, member.external_id), ctx.app.i18n.default_locale)
            await _send_photos(ctx, member.external_id, [
                (file_id, ctx.app.i18n.render(_("Photo {n} of {count}", n=n, count=len(notice.photos)), locale))
                for n, file_id in enumerate(notice.photos, start=1)])


async def _send_photos(ctx: Context, chat_id: str, photos: Sequence[tuple[str, str]]) -> int:
    """Send photos by their platform file ids; returns how many went (a stale or forged id is skipped)."""
    sent = 0
    for file_id, caption in photos:
        try:
            await ctx.messenger.send_photo(chat_id, file_id, caption)
            sent += 1
        except MessengerError as error:
            log.warning("could not send a request photo to chat %s: %s", chat_id, error)
    return sent


def _photos(ctx: Context) -> tuple[Photo, ...]:
    return ctx.event.photos if isinstance(ctx.event, IncomingMessage) else ()


def _album(ctx: Context) -> str | None:
    return ctx.event.media_group_id if isinstance(ctx.event, IncomingMessage) else None


def _photos_line(ctx: Context, no: str) -> list[Text | str]:
    """The answer's line about the photos that came with a command (none: no line)."""
    if _album(ctx):
        return [_("Photos sent together are added to {no} as they arrive; /order {no} shows them.", no=no)]
    if _photos(ctx):
        return [_("Photos attached: {count}.", count=len(_photos(ctx)))]
    return []


def _match_category(ctx: Context, token: str, known: list[str]) -> str | None:
    wanted = token.strip().casefold()
    for code in known:
        names = {code.casefold()} | {ctx.app.i18n.render(category_name(code), locale).casefold()
                                     for locale in ("zh_CN", "en")}
        if wanted in names:
            return code
    return None


def _categories_line(ctx: Context, known: list[str]) -> Text:
    return _("Categories: {names}", names=", ".join(ctx.t(category_name(c)) for c in known))


async def _report(ctx: Context, args: str) -> None:
    known = await service.community_categories(ctx.app.db, await ctx.actor())
    if known is None:
        raise Refusal(_("Only registered residents can report a problem. Register first with /register."))
    parts = args.split(None, 2)
    if len(parts) < 3:
        await ctx.reply(render.join([
            _("Usage: {usage}", usage=_("/report <category> <where> [urgent] <what happened>")),
            _("Where: your home (3-2-501), a building unit (3-2), a building (3) or a common area (east-gate)."),
            _categories_line(ctx, known)]))
        return
    token, location, rest = parts
    category = _match_category(ctx, token, known)
    if category is None:
        raise Refusal(render.join([_("There is no category {name} here.", name=token[:40]),
                                   _categories_line(ctx, known)]))
    urgent = False
    first, _sep, remainder = rest.partition(" ")
    urgency = aliases.english_or_code("urgency", first, tuple(rules.URGENCIES))
    if urgency is not None:
        urgent = rules.URGENCIES[urgency]
        rest = remainder
    outcome = await service.report(ctx.app.db, await ctx.actor(), category, location, rest, urgent=urgent,
                                   photos=_photos(ctx), album=_album(ctx))
    ctx.app.replan()  # its deadlines
    r = outcome.request
    await ctx.reply(render.join([
        _("Received. Your work order number is {no}.", no=number(r)),
        _("A first response is due by {deadline}; the solution by {resolution}.",
          deadline=render.when(r.response_due, ctx.app.tz), resolution=render.when(r.resolution_due, ctx.app.tz)),
        *_photos_line(ctx, number(r)),
        _("See your requests with /myreports."),
    ]))
    await send_notices(ctx, outcome.notices)


@registry.command(
    "report",
    where="private",
    summary=_("Report a problem to be handled (a lamp, a leak, noise...)"),
    usage=_("/report <category> <where> [urgent] <what happened>"),
)
async def report(ctx: Context, args: str) -> None:
    await _report(ctx, args)


@registry.command(
    "myreports",
    where="private",
    summary=_("Your reported problems and where they stand"),
    usage=_("/myreports"),
)
async def myreports(ctx: Context, args: str) -> None:
    rows = await service.mine(ctx.app.db, await ctx.actor())
    if not rows:
        await ctx.reply(_("You have not reported anything yet. /report tells how."))
        return
    lines: list[Text | str] = [_("Your requests:")]
    for r in rows:
        state: Text = state_name(r.state)
        if r.state == "closed" and r.rating:
            state = _("closed, {rating}", rating=rating_name(r.rating))
        lines.append(_("{no} {category}, {location}: {state}", no=number(r), category=category_name(r.category),
                       location=r.location, state=state))
    await ctx.reply(render.join(lines))


@registry.command(
    "order",
    where="private",
    summary=_("Show one work order"),
    usage=_("/order <work order>"),
)
async def order(ctx: Context, args: str) -> None:
    if not args.strip():
        raise UsageError()
    request, party, author, photos = await service.show(ctx.app.db, await ctx.actor(), rules.parse_number(args))
    lines: list[Text | str] = [service.summary(request, party, author),
                               _("State: {state}", state=state_name(request.state))]
    if photos:
        lines.append(_("Photos: {count}", count=len(photos)))
    await ctx.reply(render.join(lines))
    stages = {"report": _("the report"), "resolve": _("the solution")}
    await _send_photos(ctx, ctx.chat.chat_id, [
        (p.file_id, ctx.t(_("{no}: photo {n} of {count}, {stage}", no=number(request), n=n, count=len(photos),
                            stage=stages.get(p.stage, p.stage))))
        for n, p in enumerate(photos, start=1)])


@registry.command(
    "queue",
    where="private",
    summary=_("Handlers: the open requests of your party"),
    usage=_("/queue"),
)
async def queue(ctx: Context, args: str) -> None:
    rows = await service.queue(ctx.app.db, await ctx.actor())
    if not rows:
        await ctx.reply(_("No open requests for your party."))
        return
    lines: list[Text | str] = [_("Open requests:")]
    for r, party in rows:
        lines.append(_("{no} [{party}] {category}, {location}: {state}, first response due {deadline}",
                       no=number(r), party=party.name, category=category_name(r.category), location=r.location,
                       state=state_name(r.state), deadline=render.when(r.response_due, ctx.app.tz)))
    await ctx.reply(render.join(lines))


async def _handle(ctx: Context, args: str, action: RequestAction, *, needs_text: bool, needs_target: bool) -> None:
    parts = args.split(None, 2 if needs_target else 1)
    if not parts or len(parts) < 1 + int(needs_target) + int(needs_text):
        raise UsageError()
    request_id = rules.parse_number(parts[0])
    target = parts[1] if needs_target else ""
    text = parts[-1] if needs_text else ""
    resolving = action is RequestAction.RESOLVE
    outcome = await service.handle(ctx.app.db, await ctx.actor(), request_id, action, text, target,
                                   photos=_photos(ctx) if resolving else (), album=_album(ctx) if resolving else None)
    ctx.app.replan()
    no = number(outcome.request)
    answers = {
        RequestAction.TAKE: _("You took work order {no}. The resident was told.", no=no),
        RequestAction.REPLY: _("Your answer was sent to the resident of {no}.", no=no),
        RequestAction.RESOLVE: _("Work order {no} is marked solved; the resident is asked to rate it.", no=no),
        RequestAction.TRANSFER: _("Work order {no} was transferred to {party}.", no=no,
                                  party=outcome.party.name if outcome.party else ""),
        RequestAction.WHISTLE: _("Whistle blown: {party} is called to work order {no}; the street level was told.",
                                 no=no, party=outcome.party.name if outcome.party else ""),
    }
    await ctx.reply(render.join([answers[action], *(_photos_line(ctx, no) if resolving else [])]))
    await send_notices(ctx, outcome.notices)


@registry.command("take", where="private", summary=_("Handlers: take a work order"), usage=_("/take <work order>"))
async def take(ctx: Context, args: str) -> None:
    await _handle(ctx, args, RequestAction.TAKE, needs_text=False, needs_target=False)


@registry.command("reply", where="private", summary=_("Handlers: answer the resident"),
                  usage=_("/reply <work order> <text>"))
async def reply(ctx: Context, args: str) -> None:
    await _handle(ctx, args, RequestAction.REPLY, needs_text=True, needs_target=False)


@registry.command("resolve", where="private", summary=_("Handlers: mark a work order solved"),
                  usage=_("/resolve <work order> <what was done>"))
async def resolve(ctx: Context, args: str) -> None:
    await _handle(ctx, args, RequestAction.RESOLVE, needs_text=True, needs_target=False)


@registry.command("photo", where="private", summary=_("Add photos to a work order (as the photos' caption)"),
                  usage=_("/photo <work order>, as the caption of one or more photos"))
async def photo(ctx: Context, args: str) -> None:
    if not args.strip():
        raise UsageError()
    outcome, stage, added = await service.add_photos(ctx.app.db, await ctx.actor(), rules.parse_number(args),
                                                     _photos(ctx), _album(ctx))
    no = number(outcome.request)
    lines: list[Text | str] = [_("Photos added to {no}: {count}.", no=no, count=added)]
    if _album(ctx):
        lines = _photos_line(ctx, no)
    if stage == "resolve":
        lines.append(_("The resident was sent them."))
    await ctx.reply(render.join(lines))
    await send_notices(ctx, outcome.notices)


# How long the rest of an album waits for its captioned photo to be handled (they arrive together and are
# handled at once, in any order).
ALBUM_WAIT = 5.0
ALBUM_POLL = 0.25


async def untitled_photo(ctx: Context) -> None:
    """A photo sent without a command: the rest of an album whose captioned photo was /report, /resolve or
    /photo joins that work order; any other photo gets a hint (one photo per message, more with /photo)."""
    album = _album(ctx)
    try:
        if album:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + ALBUM_WAIT
            while True:
                found = await service.attach_album(ctx.app.db, await ctx.actor(), album, _photos(ctx))
                if found is not None:
                    outcome, _stage, _added = found
                    await send_notices(ctx, outcome.notices)
                    return  # quietly: the album's captioned photo was answered
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(ALBUM_POLL)
        await ctx.reply(_("To add a photo, send it with a caption: /report ... for a new problem, or /photo <work "
                          "order> for one you reported or handle."))
    except DomainError as error:
        await ctx.reply(errors.explain(error))


@registry.command("transfer", where="private", summary=_("Handlers: hand a work order to another party"),
                  usage=_("/transfer <work order> <party> <reason>"))
async def transfer(ctx: Context, args: str) -> None:
    await _handle(ctx, args, RequestAction.TRANSFER, needs_text=True, needs_target=True)


@registry.command("whistle", where="private", summary=_("Handlers: call a department to a work order"),
                  usage=_("/whistle <work order> <department> <reason>"))
async def whistle(ctx: Context, args: str) -> None:
    await _handle(ctx, args, RequestAction.WHISTLE, needs_text=True, needs_target=True)


@registry.command("reopen", where="private", summary=_("Not satisfied with a solution: say why"),
                  usage=_("/reopen <work order> <what is still wrong>"))
async def reopen(ctx: Context, args: str) -> None:
    parts = args.split(None, 1)
    if len(parts) < 2:
        raise UsageError()
    outcome = await service.reopen(ctx.app.db, await ctx.actor(), rules.parse_number(parts[0]), parts[1])
    ctx.app.replan()
    no = number(outcome.request)
    if outcome.request.state == "closed":
        await ctx.reply(_("Thank you. Work order {no} is closed with your rating: {rating}.", no=no,
                          rating=rating_name(Rating.UNSATISFIED)))
    else:
        await ctx.reply(_("Work order {no} is reopened; its handlers were told why.", no=no))
    await send_notices(ctx, outcome.notices)


async def press_rating(ctx: Context, request_id: int, code: str) -> None:
    if not ctx.private:
        raise Refusal(_("This button is no longer valid."))
    rating = RATING_CODES[code]
    outcome = await service.rate(ctx.app.db, await ctx.actor(), request_id, rating)
    no = number(outcome.request)
    if outcome.needs_reason:
        await ctx.toast(_("Please tell us what is still wrong."))
        await ctx.reply(_("What is still wrong with {no}? Send: /reopen {no} <reason>", no=no))
        return
    ctx.app.replan()
    await ctx.toast(_("Thank you: {rating}.", rating=rating_name(rating)))
    if ctx.pressed_message_id:  # the buttons go: rated once
        text = ctx.t(_("Work order {no}: rated {rating}.", no=no, rating=rating_name(rating)))
        await ctx.messenger.edit(ctx.chat.chat_id, ctx.pressed_message_id, OutMessage(text))
    await send_notices(ctx, outcome.notices)


# --- recurring problems --------------------------------------------------------------------------------


@registry.command(
    "suggestions",
    where="private",
    moderator=True,
    summary=_("Council: recurring problems found among requests"),
    usage=_("/suggestions"),
)
async def suggestions(ctx: Context, args: str) -> None:
    found = await service.suggestions(ctx.app.db, await ctx.actor())
    if not found:
        await ctx.reply(_("No recurring problems right now."))
        return
    for suggestion, evidence in found:
        assert suggestion.id is not None  # a stored suggestion
        lines: list[Text | str] = [service.suggestion_text(suggestion)]
        lines.extend(_("{no} ({date}) {location}: {text}", no=number(r), date=render.when(r.reported_at, ctx.app.tz),
                       location=r.location, text=r.text[:200]) for r in evidence)
        await ctx.reply(render.join(lines), [[Action(ctx.t(_("Make it a proposal")),
                                                      data=pack(AdoptSuggestion(suggestion.id)))]])


async def press_suggestion(ctx: Context, suggestion_id: int) -> None:
    if not ctx.private:
        raise Refusal(_("This button is no longer valid."))
    proposal, reporters = await service.adopt_suggestion(ctx.app.db, await ctx.actor(), suggestion_id)
    assert proposal.id is not None  # stored by the service
    ctx.app.replan()
    await ctx.toast(_("Proposal #{id} created.", id=proposal.id))
    await ctx.reply(_("Proposal #{id} {title} is collecting co-signatures; {count} residents who reported it "
                      "were invited to co-sign.", id=proposal.id, title=proposal.title, count=len(reporters)))
    for person in reporters:
        locale = member_locale(person, Sender(person.platform, person.external_id), ctx.app.i18n.default_locale)
        text = ctx.app.i18n.render(_(
            "The problem you reported is now proposal #{id} {title} for the residents' council. Co-sign it if you "
            "agree.", id=proposal.id, title=proposal.title), locale)
        button = Action(ctx.app.i18n.render(_("Co-sign #{id}", id=proposal.id), locale),
                        data=pack(Support(proposal.id)))
        try:
            await ctx.messenger.send(person.external_id, OutMessage(text, ((button,),)))
        except MessengerError:
            log.warning("could not invite member %s to co-sign", person.id)


# --- the month's rates, for the council ----------------------------------------------------------------


def rates_lines(month: str, rows: Sequence[service.StatsRow]) -> list[Text | str]:
    """The month's three rates (exact fractions shown as percentages, with the counts): overall, per party,
    per category. Used in the council's first digest of a month and in the 1st-of-month message."""
    lines: list[Text | str] = [_("Residents' requests in {month}:", month=month)]
    for row in rows:
        r = row.rates
        name: Text | str = _("all requests") if row.group == "all" else (
            category_name(row.name) if row.group == "category" else row.name)
        lines.append(_("{name}: {n} received, response {response}, resolution {resolution}, satisfaction "
                       "{satisfaction} ({not_rated} not rated)", name=name, n=r.received,
                       response=_rate(r.response_rate, r.responded_on_time, r.received),
                       resolution=_rate(r.resolution_rate, r.resolved_on_time, r.received),
                       satisfaction=_rate(r.satisfaction_rate, r.satisfied + r.basic, r.rated),
                       not_rated=r.not_rated))
    return lines


def _rate(rate: Fraction | None, part: int, whole: int) -> str:
    """50.00% (1/2): the percentage rounded half up, and the exact fraction it stands for."""
    return rules.percent(rate) if rate is None else f"{rules.percent(rate)} ({part}/{whole})"


def wire(features: Features) -> None:
    features.add_commands(registry)
    features.photo = untitled_photo
    features.button(RateRequest, lambda ctx, button: press_rating(ctx, button.request_id, button.rating))
    features.button(AdoptSuggestion, lambda ctx, button: press_suggestion(ctx, button.suggestion_id))
