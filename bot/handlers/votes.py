"""Votes in the chat: /vote, ballots by button, /close, /paper, /results, /objection."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.chat.port import Action
from bot.deliberation.errors import NotFound
from bot.deliberation.text import optional_text
from bot.deliberation.vote_kinds import BallotType, get_kind, kind_of_word
from bot.handlers import aliases, render
from bot.handlers.agenda import parse_id, touch_card
from bot.handlers.announcements import close_and_announce
from bot.handlers.callbacks import (
    CODE_OF_POSITION,
    BallotChoice,
    RankOption,
    ResetRanking,
    SubmitOptions,
    SubmitRanking,
    ToggleOption,
    pack,
)
from bot.handlers.commands import Registry, UsageError
from bot.handlers.context import Context, Refusal
from bot.handlers.replaced import tell_replaced
from bot.handlers.wiring import Features
from bot.i18n import Text, _
from bot.services import elevator, voting
from bot.storage import proposals as proposal_store
from bot.storage import votes as vote_store
from bot.storage.models import Proposal, Vote, utcnow

# This module's commands, handed to the app by ``wire`` (bot.handlers.features).
registry = Registry()

DAYS_RE = re.compile(r"^(\d{1,3})d$")


def ballot_actions(vote: Vote, t: Callable[[Text], str]) -> tuple[tuple[Action, ...], ...]:
    if vote.status != "open" or vote.id is None:
        return ()
    if get_kind(vote.kind).ballot is BallotType.YES_NO:
        return (
            (
                Action(t(_("Yes")), data=pack(BallotChoice(vote.id, "y"))),
                Action(t(_("No")), data=pack(BallotChoice(vote.id, "n"))),
                Action(t(_("Abstain")), data=pack(BallotChoice(vote.id, "a"))),
            ),
        )
    return ((Action(t(_("Vote in private chat")), start=f"vote_{vote.id}"),),)


async def _vote_of(ctx: Context, proposal_id: int, *, scoped: bool = False) -> tuple[Proposal, Vote]:
    async with ctx.app.db.uow() as uow:
        proposal = await proposal_store.by_id(uow, proposal_id)
        if proposal is None:
            raise NotFound("no proposal", what="proposal", id=proposal_id)
        vote = await voting.current_vote(uow, proposal_id)
    if scoped:
        await ctx.require_member_of(proposal.community_id)
    if vote is None:
        raise Refusal(_("Proposal #{id} has no vote yet.", id=proposal_id))
    return proposal, vote


@registry.command(
    "vote",
    where="group",
    moderator=True,
    summary=_("Open the vote on an agenda item"),
    usage=_("/vote <id> <kind> [<days>d] [secret|open] (options on the next lines for choice, ranked, approval)"),
)
async def open_vote(ctx: Context, args: str) -> None:
    first, _sep, rest = args.partition("\n")
    parts = first.split()
    if len(parts) < 2:
        raise UsageError()
    proposal_id, kind = parse_id(parts[0]), parts[1].lower()
    if (plain := kind_of_word(kind)) is not None:
        kind = plain  # a plain name (a Chinese word) stands for its kind
    elif not kind.isascii():
        raise UsageError()  # an unknown word: the usage line says what is accepted
    days = 7
    secret: bool | None = None
    seen: set[str] = set()
    for extra in aliases.join_days(parts[2:]):
        secrecy = aliases.english_or_code("secrecy", extra, ("secret", "open"))
        flag = "days" if DAYS_RE.match(extra.lower()) else "secrecy" if secrecy else ""
        # Each flag at most once: "secret open" or "5d 9d" is ambiguous, so it is refused, not guessed.
        if not flag or flag in seen:
            raise UsageError()
        seen.add(flag)
        if match := DAYS_RE.match(extra.lower()):
            days = int(match.group(1))
        else:
            secret = secrecy == "secret"
    options = [line.strip() for line in rest.split("\n") if line.strip()] or None
    vote = await voting.open_vote(
        ctx.app.db, proposal_id, await ctx.actor(), kind, days, secret=secret, options=options, max_choices=1
    )
    ctx.app.replan()  # its deadline and reminders
    await post_ballot(ctx, vote)
    touch_card(ctx, proposal_id)  # the matter is now being voted on


async def post_ballot(ctx: Context, vote: Vote) -> None:
    assert vote.id is not None
    _vote, standing = await voting.turnout(ctx.app.db, vote.id)
    async with ctx.app.db.uow() as uow:
        proposal = await proposal_store.by_id(uow, vote.proposal_id)
    assert proposal is not None
    locale = await ctx.room_locale()  # posted for the whole room: in the room's language
    sent = await ctx.messenger.send(
        ctx.chat.chat_id,
        ctx.render(
            render.ballot_post(proposal, vote, standing, ctx.app.tz),
            ballot_actions(vote, lambda t: ctx.app.i18n.render(t, locale)),
            locale,
        ),
    )
    async with ctx.app.db.uow() as uow:
        await vote_store.add_post(uow, vote.id, ctx.chat.platform, ctx.chat.chat_id, sent.message_id, locale, utcnow())
    # A press between the send and this row found no message to refresh: refresh once now it is known.
    ctx.app.board.touch(vote.id, ctx.messenger)


def _deadline_note(ctx: Context, vote: Vote) -> Text:
    return _("You can change it until {deadline}.", deadline=render.when(vote.closes_at, ctx.app.tz))


# --- option ballots in private chat (stateless: the selection travels in the button data) -------------


async def open_private_ballot(ctx: Context, vote_id: int) -> None:
    async with ctx.app.db.uow() as uow:
        vote = await vote_store.by_id(uow, vote_id)
        proposal = await proposal_store.by_id(uow, vote.proposal_id) if vote else None
    if vote is None or proposal is None:
        raise NotFound("no vote", what="vote", id=vote_id)
    await ctx.require_member_of(proposal.community_id)
    if vote.status != "open":
        raise Refusal(_("This vote is closed."))
    kind = get_kind(vote.kind)
    if kind.ballot is BallotType.YES_NO:
        title = _("Vote on #{id} {title}", id=proposal.id, title=proposal.title)
        if ctx.app.web_links:  # WEB_BASE_URL is set: the same ballot on the web
            title = render.join([title, _("Vote on the web: {link}", link=f"{ctx.app.web_links}/v/{vote.id}")])
        await ctx.reply(title, ballot_actions(vote, ctx.t))
        return
    if kind.ballot is BallotType.RANKED:
        await ctx.reply(*ranking_view(ctx, proposal, vote, ""))
    else:
        await ctx.reply(*selection_view(ctx, proposal, vote, 0))


def selection_view(ctx: Context, proposal: Proposal, vote: Vote, mask: int) -> tuple[Text, list[list[Action]]]:
    assert vote.id is not None  # a stored vote
    vote_id = vote.id
    options = vote.options or []
    kind = get_kind(vote.kind)
    limit = vote.max_choices if kind.ballot is BallotType.CHOICE else len(options)
    text = render.join(
        [
            _("Vote on #{id} {title}", id=proposal.id, title=proposal.title),
            _("Choose up to {n}, then press Submit.", n=limit),
        ]
    )
    rows = [
        [Action(("☑ " if mask >> i & 1 else "☐ ") + option[:40], data=pack(ToggleOption(vote_id, mask, i)))]
        for i, option in enumerate(options)
    ]
    if mask:
        rows.append([Action(ctx.t(_("Submit")), data=pack(SubmitOptions(vote_id, mask)))])
    return text, rows


def ranking_view(ctx: Context, proposal: Proposal, vote: Vote, sequence: str) -> tuple[Text, list[list[Action]]]:
    assert vote.id is not None  # a stored vote
    vote_id = vote.id
    options = vote.options or []
    ranked = [options[int(ch)] for ch in sequence]
    lines: list[Text | str] = [
        _("Vote on #{id} {title}", id=proposal.id, title=proposal.title),
        _("Press the options in your order of preference, then Submit."),
    ]
    lines.extend(f"{place}. {name}" for place, name in enumerate(ranked, start=1))
    rows = [
        [Action(option[:40], data=pack(RankOption(vote_id, sequence, i)))]
        for i, option in enumerate(options)
        if str(i) not in sequence
    ]
    if sequence:
        rows.append(
            [
                Action(ctx.t(_("Submit")), data=pack(SubmitRanking(vote_id, sequence))),
                Action(ctx.t(_("Start over")), data=pack(ResetRanking(vote_id))),
            ]
        )
    return render.join(lines), rows


async def _open_vote_for_press(ctx: Context, vote_id: int) -> tuple[Proposal, Vote]:
    async with ctx.app.db.uow() as uow:
        vote = await vote_store.by_id(uow, vote_id)
        proposal = await proposal_store.by_id(uow, vote.proposal_id) if vote else None
    if vote is None or proposal is None or vote.status != "open" or not vote.options:
        raise Refusal(_("This vote is closed."))
    return proposal, vote


async def press_option(ctx: Context, vote_id: int, mask: int, index: int) -> None:
    proposal, vote = await _open_vote_for_press(ctx, vote_id)
    if index >= len(vote.options or []) or mask >= 1 << len(vote.options or []):
        raise Refusal(_("This button is no longer valid."))
    mask ^= 1 << index
    limit = vote.max_choices if get_kind(vote.kind).ballot is BallotType.CHOICE else len(vote.options or [])
    if bin(mask).count("1") > limit:
        raise Refusal(_("Choose up to {n}.", n=limit))
    await ctx.toast(_("Selection updated."))
    if ctx.pressed_message_id:
        await ctx.messenger.edit(
            ctx.chat.chat_id, ctx.pressed_message_id, ctx.render(*selection_view(ctx, proposal, vote, mask))
        )


async def submit_options(ctx: Context, vote_id: int, choice: list[int]) -> None:
    cast = await voting.cast_ballot(ctx.app.db, vote_id, await ctx.actor(), choice)
    proposal, vote = await _open_vote_for_press(ctx, vote_id)
    names = ", ".join((vote.options or [])[i] for i in choice)
    await ctx.toast(render.join([_("Recorded: {choice}.", choice=names), *render.receipt_line(cast),
                                 _deadline_note(ctx, vote)]))
    if ctx.pressed_message_id:
        await ctx.messenger.edit(
            ctx.chat.chat_id,
            ctx.pressed_message_id,
            ctx.render(
                render.join(
                    [
                        _("Vote on #{id} {title}", id=proposal.id, title=proposal.title),
                        _("Recorded: {choice}.", choice=names),
                        *render.receipt_line(cast),
                        _deadline_note(ctx, vote),
                    ]
                ),
                [[Action(ctx.t(_("Change my vote")), start=f"vote_{vote_id}")]],
            ),
        )
    if cast.changed:
        ctx.app.board.touch(vote_id, ctx.messenger)
        await tell_replaced(ctx.app, cast)


async def press_rank(ctx: Context, vote_id: int, sequence: str, index: int) -> None:
    proposal, vote = await _open_vote_for_press(ctx, vote_id)
    if (
        index >= len(vote.options or [])
        or str(index) in sequence
        or any(int(ch) >= len(vote.options or []) for ch in sequence)
    ):
        raise Refusal(_("This button is no longer valid."))
    await ctx.toast(_("Selection updated."))
    if ctx.pressed_message_id:
        await ctx.messenger.edit(
            ctx.chat.chat_id,
            ctx.pressed_message_id,
            ctx.render(*ranking_view(ctx, proposal, vote, sequence + str(index))),
        )


async def reset_rank(ctx: Context, vote_id: int) -> None:
    proposal, vote = await _open_vote_for_press(ctx, vote_id)
    await ctx.toast(_("Selection updated."))
    if ctx.pressed_message_id:
        await ctx.messenger.edit(
            ctx.chat.chat_id, ctx.pressed_message_id, ctx.render(*ranking_view(ctx, proposal, vote, ""))
        )


# --- closing and results ---------------------------------------------------------------------------


@registry.command("close", moderator=True, summary=_("Close a vote now and post the result"), usage=_("/close <id>"))
async def close(ctx: Context, args: str) -> None:
    proposal, vote = await _vote_of(ctx, parse_id(args))
    assert vote.id is not None
    closed = await close_and_announce(
        ctx.app.db, ctx.app.i18n, ctx.app.tz, vote.id, await ctx.actor(),
        # This room is answered right here; the other rooms of the scope get the result from the outbox.
        skip_chat=(ctx.chat.platform, ctx.chat.chat_id), edit_posts=False,
    )
    ctx.app.replan()
    await announce_result(ctx, closed.proposal, closed.vote, closed.result, closed.head)
    touch_card(ctx, closed.proposal.id)


async def announce_result(ctx: Context, proposal: Proposal, vote: Vote, result: dict[str, object],
                          head: str | None = None) -> None:
    """The result here, at once, and the ballot messages frozen (the scope's other rooms: see /close)."""
    assert vote.id is not None
    # The result first: under the chat's 1 message/s the frozen ballot's edit would hold it back.
    await ctx.reply(render.result_text(proposal, vote, result, head), public=True)
    await ctx.app.board.refresh(vote.id, ctx.messenger)


@registry.command("results", summary=_("The result of a vote (the standing while open)"),
                  usage=_("/results <id> [table] (table: the pairwise comparisons of a ranked vote)"))
async def results(ctx: Context, args: str) -> None:
    number, _sep, extra = args.strip().partition(" ")
    detail = bool(extra.strip())
    if detail and aliases.code("keywords", extra) != "detail":
        raise UsageError()
    proposal, vote = await _vote_of(ctx, parse_id(number), scoped=True)
    if vote.result is not None:
        await ctx.reply(render.result_text(proposal, vote, vote.result, detail=detail))
        return
    assert vote.id is not None
    _v, standing = await voting.turnout(ctx.app.db, vote.id)
    if vote.secret:
        # Secret: turnout only until the vote closes, so nobody can follow the count.
        await ctx.reply(
            render.join(
                [
                    _("Vote on #{id} {title}", id=proposal.id, title=proposal.title),
                    *render.turnout_lines(vote, standing),
                ]
            )
        )
        return
    async with ctx.app.db.uow() as uow:
        roll, ballots = await voting.roll_and_ballots(uow, vote.id)
    result = {
        **voting.result_document(voting.tally(get_kind(vote.kind), vote, roll, ballots), len(roll)),
        "provisional": True,
    }
    await ctx.reply(render.result_text(proposal, vote, result, detail=detail))


@registry.command(
    "paper",
    moderator=True,
    summary=_("Enter a paper or proxy ballot for a home"),
    usage=_("/paper <id> <building-unit-room> yes|no|abstain <authority>"),
)
async def paper(ctx: Context, args: str) -> None:
    parts = args.split(maxsplit=3)
    position = aliases.english_or_code("positions", parts[2], CODE_OF_POSITION) if len(parts) == 4 else None
    if len(parts) < 4 or position is None:
        raise UsageError()
    _proposal, vote = await _vote_of(ctx, parse_id(parts[0]))
    assert vote.id is not None
    proxy = parts[3].lower().startswith("proxy") or any(
        parts[3].startswith(word) for word in aliases.words().tables["proxy"])
    source = "proxy" if proxy else "paper"
    cast = await voting.paper_ballot(
        ctx.app.db, vote.id, await ctx.actor(), parts[1], position, parts[3], source=source
    )
    recorded = (
        _("Proxy ballot for {home} recorded: {choice} ({authority}). The owner's own ballot would replace it.",
          home=parts[1], choice=render.POSITION_NAMES[position], authority=optional_text(parts[3], max_length=500))
        if source == "proxy"
        else _(
            "Paper ballot for {home} recorded: {choice} ({authority}). The owner's own ballot would replace it.",
            home=parts[1],
            choice=render.POSITION_NAMES[position],
            authority=optional_text(parts[3], max_length=500),
        )
    )
    await ctx.reply(
        recorded
        if cast.changed
        else _("That ballot was already recorded.")
    )
    ctx.app.board.touch(vote.id, ctx.messenger)


OBJECTION_USAGE = _(
    "/objection <id> <building-unit-room> light|noise|access|cost|other [details] — or "
    "/objection <id> — or /objection status <objection-id> open|mediating|resolved|escalated"
)
REASON_NAMES = render.REASON_NAMES
STATUS_NAMES = render.STATUS_NAMES


@registry.command(
    "objection", moderator=True, summary=_("Record, list or update elevator objections"), usage=OBJECTION_USAGE
)

async def objection(ctx: Context, args: str) -> None:
    parts = args.split(maxsplit=3)
    if not parts:
        raise UsageError()
    if aliases.code("keywords", parts[0]) == "status":
        if len(parts) < 3:
            raise UsageError()
        status = aliases.argument("statuses", parts[2], STATUS_NAMES)
        updated = await elevator.update_objection(
            ctx.app.db, parse_id(parts[1]), await ctx.actor(), status, parts[3] if len(parts) > 3 else ""
        )
        await ctx.reply(_("Objection #{id} is now {status}.", id=updated.id, status=STATUS_NAMES[updated.status]),
                        public=True)
        return
    proposal_id = parse_id(parts[0])
    if len(parts) == 1:
        items = await elevator.objections(ctx.app.db, proposal_id, await ctx.actor())
        lines: list[Text | str] = [_("Objections to #{id}:", id=proposal_id)]
        lines.extend(
            _(
                "#{id} floor {floor}, {reason}: {status} {detail}",
                id=o.id,
                floor=o.floor,
                reason=REASON_NAMES[o.reason],
                status=STATUS_NAMES[o.status],
                detail=o.detail,
            )
            for o in items
        )
        if not items:
            lines.append(_("None recorded."))
        await ctx.reply(render.join(lines))
        return
    if len(parts) < 3:
        raise UsageError()
    reason = aliases.argument("reasons", parts[2], REASON_NAMES)
    recorded = await elevator.record_objection(
        ctx.app.db, proposal_id, await ctx.actor(), parts[1], reason, parts[3] if len(parts) > 3 else ""
    )
    await ctx.reply(
        _(
            "Objection #{id} recorded for #{proposal} (floor {floor}, {reason}).",
            id=recorded.id,
            proposal=proposal_id,
            floor=recorded.floor,
            reason=REASON_NAMES[recorded.reason],
        ),
        public=True,
    )


async def submit_selection(ctx: Context, button: SubmitOptions) -> None:
    await submit_options(ctx, button.vote_id, [i for i in range(10) if button.mask >> i & 1])


async def submit_ranking(ctx: Context, button: SubmitRanking) -> None:
    if len(set(button.ranking)) != len(button.ranking):
        raise Refusal(_("This button is no longer valid."))
    await submit_options(ctx, button.vote_id, [int(ch) for ch in button.ranking])


def wire(features: Features) -> None:
    """Yes/no ballot presses (BallotChoice) take the app's batched path (Yishi._ballot_press), not this table."""
    features.add_commands(registry)
    features.button(ToggleOption, lambda ctx, b: press_option(ctx, b.vote_id, b.mask, b.option), edit_only=True)
    features.button(SubmitOptions, submit_selection)
    features.button(RankOption, lambda ctx, b: press_rank(ctx, b.vote_id, b.ranking, b.option), edit_only=True)
    features.button(SubmitRanking, submit_ranking)
    features.button(ResetRanking, lambda ctx, b: reset_rank(ctx, b.vote_id), edit_only=True)
