"""/follow and /unfollow a matter's implementation; progress notes to followers; evaluation of done matters."""

from __future__ import annotations

import logging

from bot.chat.port import Action, MessengerError, OutMessage, Sender
from bot.deliberation.requests import percent
from bot.handlers import aliases, render
from bot.handlers.agenda import parse_id
from bot.handlers.callbacks import Evaluate, pack
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context, Refusal
from bot.handlers.wiring import Features
from bot.i18n import Text, _, member_locale
from bot.services import followers as service
from bot.storage.models import Member, Proposal

log = logging.getLogger(__name__)

EVALUATION_CODES = {"s": "satisfied", "b": "basic", "u": "unsatisfied"}
RATINGS = ("satisfied", "basic", "unsatisfied")

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()


def evaluation_of(word: str) -> str | None:
    """What a resident typed as a rating: a one-letter code, the English word, or the Chinese one (aliases.toml)."""
    return EVALUATION_CODES.get(word.strip().lower()) or aliases.english_or_code("evaluations", word, RATINGS)


def evaluation_name(rating: str) -> Text:
    return {"satisfied": _("satisfied"), "basic": _("basically satisfied")}.get(rating, _("not satisfied"))


@registry.command("follow", summary=_("Hear privately of an adopted matter's progress"), usage=_("/follow <id>"))
async def follow(ctx: Context, args: str) -> None:
    if not args.strip():
        raise UsageError()
    proposal, _changed = await service.follow(ctx.app.db, await ctx.actor(), parse_id(args), True)
    await ctx.reply(_("You will hear privately of the progress of #{id} {title}. /unfollow {id} stops it.",
                      id=proposal.id, title=proposal.title))


@registry.command("unfollow", summary=_("Stop hearing of a matter's progress"), usage=_("/unfollow <id>"))
async def unfollow(ctx: Context, args: str) -> None:
    if not args.strip():
        raise UsageError()
    proposal, _changed = await service.follow(ctx.app.db, await ctx.actor(), parse_id(args), False)
    await ctx.reply(_("You no longer hear of the progress of #{id}.", id=proposal.id))


async def _send(ctx: Context, member: Member, text: Text, actions: tuple[tuple[Action, ...], ...] = ()) -> None:
    try:
        await ctx.messenger.send(member.external_id, OutMessage(ctx.app.i18n.render(text, _locale(ctx, member))[:4096],
                                                                actions))
    except MessengerError:
        log.warning("could not tell member %s of a matter's progress", member.id)


def _locale(ctx: Context, member: Member) -> str:
    return member_locale(member, Sender(member.platform, member.external_id), ctx.app.i18n.default_locale)


async def after_progress(ctx: Context, proposal: Proposal, text: Text, done: bool) -> None:
    """A /progress note goes privately to the matter's followers; when it is done, the households in its
    scope are asked to evaluate it."""
    assert proposal.id is not None
    acting = ctx.member_id
    for member in await service.followers(ctx.app.db, proposal.id, besides=acting):
        await _send(ctx, member, render.join([text, _("(/unfollow {id} to stop these messages)", id=proposal.id)]))
    if not done:
        return
    for member in await service.residents_in_scope(ctx.app.db, proposal):
        locale = _locale(ctx, member)
        buttons = tuple(Action(ctx.app.i18n.render(label, locale), data=pack(Evaluate(proposal.id, code)))
                        for code, label in (("s", _("Satisfied")), ("b", _("Basically satisfied")),
                                            ("u", _("Not satisfied"))))
        await _send(ctx, member, _(
            "#{id} {title} is done. How satisfied are you with the result? A comment: /evaluate {id} "
            "<satisfied|basic|unsatisfied> <comment>. The counts are public (/evaluation {id}).",
            id=proposal.id, title=proposal.title), (buttons,))


def _summary(result: service.Evaluation) -> Text:
    p = result.proposal
    return _("Evaluation of #{id} {title}: satisfied {s}, basically satisfied {b}, not satisfied {u} "
             "({rate} satisfied of {n}).", id=p.id, title=p.title, s=result.satisfied, b=result.basic,
             u=result.unsatisfied, rate=percent(result.rate), n=result.total)


@registry.command("evaluate", summary=_("Evaluate a completed matter"),
                  usage=_("/evaluate <id> <satisfied|basic|unsatisfied> [comment]"))
async def evaluate(ctx: Context, args: str) -> None:
    parts = args.split(None, 2)
    rating = evaluation_of(parts[1]) if len(parts) >= 2 else None
    if rating is None:
        raise UsageError()
    result = await service.evaluate(ctx.app.db, await ctx.actor(), parse_id(parts[0]), rating,
                                    parts[2] if len(parts) > 2 else "")
    await ctx.reply(render.join([_("Thank you: {rating}.", rating=evaluation_name(rating)), _summary(result)]))


@registry.command("evaluation", summary=_("The public evaluation of a completed matter"), usage=_("/evaluation <id>"))
async def evaluation(ctx: Context, args: str) -> None:
    if not args.strip():
        raise UsageError()
    result = await service.evaluation(ctx.app.db, parse_id(args))
    await ctx.require_member_of(result.proposal.community_id)
    await ctx.reply(_summary(result))


async def press_evaluation(ctx: Context, proposal_id: int, code: str) -> None:
    if not ctx.private:
        raise Refusal(_("This button is no longer valid."))
    rating = EVALUATION_CODES[code]
    result = await service.evaluate(ctx.app.db, await ctx.actor(), proposal_id, rating)
    await ctx.toast(_("Thank you: {rating}.", rating=evaluation_name(rating)))
    await ctx.reply(_summary(result))


def wire(features: Features) -> None:
    features.add_commands(registry)
    features.button(Evaluate, lambda ctx, button: press_evaluation(ctx, button.proposal_id, button.rating))
