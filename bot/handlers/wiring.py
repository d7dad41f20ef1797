"""What a feature module hands over in its ``wire(features)``: commands, buttons, live messages.

bot.handlers.features calls every feature module's ``wire`` once, in one list; nothing is
registered by importing a module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.handlers.callbacks import Button
from bot.handlers.commands import Registry
from bot.handlers.context import Context
from bot.handlers.live import LiveKind

B = TypeVar("B", bound=Button)
ButtonHandler = Callable[[Context, Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Press:
    """What a button kind does when pressed.

    ``edit_only``: the press only redraws its own message, so it is accepted only where the platform
    shows that message carrying the very button (ctx.pressed_message_id), never a forged or unseen one.
    """

    handler: ButtonHandler
    edit_only: bool = False


@dataclass
class Features:
    commands: Registry = field(default_factory=Registry)
    # The one tag-to-handler table: a button kind (its tag) -> what its press does.
    buttons: dict[type[Button], Press] = field(default_factory=dict)
    live: dict[str, LiveKind] = field(default_factory=dict)
    # What a photo without a command caption does in a private chat (None: it is answered like any text).
    photo: Callable[[Context], Awaitable[None]] | None = None

    def add_commands(self, commands: Registry) -> None:
        self.commands.include(commands)

    def button(
        self, kind: type[B], handler: Callable[[Context, B], Awaitable[None]], *, edit_only: bool = False
    ) -> None:
        if kind in self.buttons:
            raise ValueError(f"button {kind.__name__} ({kind.TAG}) registered twice")
        self.buttons[kind] = Press(handler, edit_only)

    def live_kind(self, kind: LiveKind) -> None:
        if kind.name in self.live:
            raise ValueError(f"live message kind {kind.name} registered twice")
        self.live[kind.name] = kind
