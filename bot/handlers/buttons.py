"""Button presses, through the one tag-to-handler table the features wired (bot.handlers.features).

Every press is re-checked: rights, state and roll, as for a command.
"""

from __future__ import annotations

from bot.chat.port import ButtonPress
from bot.handlers.callbacks import Button
from bot.handlers.context import Context, Refusal
from bot.handlers.wiring import Press
from bot.i18n import _


async def handle_press(ctx: Context, button: Button, table: dict[type[Button], Press]) -> None:
    event = ctx.event
    assert isinstance(event, ButtonPress)
    if event.buttons is not None and event.data not in event.buttons:
        # Data the pressed message never carried: a forged press (e.g. the pager on a ballot message).
        raise Refusal(_("This button is no longer valid."))
    press = table.get(type(button))
    if press is None:  # a kind no feature handles here (yes/no ballots take the batched path)
        raise Refusal(_("This button is no longer valid."))
    if press.edit_only and ctx.pressed_message_id is None:
        raise Refusal(_("This button is no longer valid."))
    await press.handler(ctx, button)
