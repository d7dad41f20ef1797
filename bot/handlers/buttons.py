"""Button presses, by action tag. Every press is re-checked: rights, state and roll, as for a command."""

from __future__ import annotations

from bot.handlers import agenda, registration, votes
from bot.handlers.callbacks import Decoded
from bot.handlers.context import Context, Refusal
from bot.handlers.types import ButtonPress
from bot.i18n import _

# Presses whose only effect is to redraw their own message: accepted only where the platform shows
# that message carrying the very button (ctx.pressed_message_id), never on a forged or unseen one.
EDIT_ONLY = frozenset({"pg", "o", "rk", "rr"})


async def handle_press(ctx: Context, action: Decoded) -> None:
    tag = action.tag
    event = ctx.event
    assert isinstance(event, ButtonPress)
    if event.buttons is not None and event.data not in event.buttons:
        # Data the pressed message never carried: a forged press (e.g. the pager on a ballot message).
        raise Refusal(_("This button is no longer valid."))
    if tag in EDIT_ONLY and ctx.pressed_message_id is None:
        raise Refusal(_("This button is no longer valid."))
    if tag == "s" or tag == "dup":
        await agenda.press_support(ctx, action.int(0))
    elif tag == "new":
        await agenda.submit_draft(ctx, action.int(0))
    elif tag == "b":
        await votes.press_ballot(ctx, action.int(0), action.args[1])
    elif tag == "o":
        await votes.press_option(ctx, action.int(0), action.int(1), action.int(2))
    elif tag == "os":
        mask = action.int(1)
        await votes.submit_options(ctx, action.int(0), [i for i in range(10) if mask >> i & 1])
    elif tag == "rk":
        await votes.press_rank(ctx, action.int(0), action.args[1], action.int(2))
    elif tag == "rs":
        sequence = action.args[1]
        if len(set(sequence)) != len(sequence):
            raise Refusal(_("This button is no longer valid."))
        await votes.submit_options(ctx, action.int(0), [int(ch) for ch in sequence])
    elif tag == "rr":
        await votes.reset_rank(ctx, action.int(0))
    elif tag == "rg":
        if not ctx.private:
            raise Refusal(_("This button is no longer valid."))
        await registration.choose_role(ctx, action.int(0), "owner" if action.args[1] == "o" else "resident")
    elif tag == "ap":
        await registration.decide(ctx, action.int(0), action.args[1] in ("a", "c"), confirm=action.args[1] == "c")
    elif tag == "rv":
        await registration.review(ctx, action.int(0), action.args[1] == "a")
    elif tag == "pg":
        text, actions = await agenda.proposals_page(ctx, action.int(0))
        await ctx.toast(_("Page {n}", n=action.int(0) + 1))
        if ctx.pressed_message_id:
            await ctx.messenger.edit(ctx.chat.chat_id, ctx.pressed_message_id, ctx.render(text, actions))
    elif tag == "ev":
        from bot.handlers import followers

        await followers.press_evaluation(ctx, action.int(0), action.args[1])
    elif tag in ("rq", "sg"):
        from bot.handlers import requests

        if tag == "rq":
            await requests.press_rating(ctx, action.int(0), action.args[1])
        else:
            await requests.press_suggestion(ctx, action.int(0))
    else:  # pragma: no cover - decode() only returns known tags
        raise Refusal(_("This button is no longer valid."))
