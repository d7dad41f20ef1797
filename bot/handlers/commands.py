"""Command parsing and the registry that /help and the command menus are built from."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from bot.handlers.aliases import keyword
from bot.handlers.errors import UsageError as UsageError  # re-exported: feature modules raise it from here
from bot.i18n import Text

Where = Literal["private", "group", "any"]
# A command's coroutine: (a bot.handlers.context.Context, the arguments). Typed loosely here because
# the context is built on this module, never the other way round.
Handler = Callable[[Any, str], Awaitable[None]]

_COMMAND_RE = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+|$)(.*)$", re.DOTALL)
# A keyword alias (bot/handlers/aliases.toml), with or without the slash: "/<kw>[@bot] args" or "<kw> args".
# Telegram's setMyCommands accepts only [a-z0-9_] names, so keywords are never registered in the menu; and a
# bot in privacy mode receives in groups only messages starting with "/" or mentioning it, so bare keywords
# reach it in groups only with privacy mode off or as an administrator (Telegram Bot API, "Privacy mode").
_KEYWORD_RE = re.compile(r"^(/?)([^\s/@]{1,16})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+|$)(.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str
    mention: str | None
    args: str
    bare: bool = False  # a keyword without the slash: ordinary words, so it stays quiet where it does not apply


def parse_command(text: str) -> ParsedCommand | None:
    match = _COMMAND_RE.match(text.strip())
    if match is None:
        return _parse_keyword(text.strip())
    return ParsedCommand(match.group(1).lower(), match.group(2), match.group(3).strip())


def _parse_keyword(text: str) -> ParsedCommand | None:
    """A keyword alias. Without the slash it counts only as the message's first word, followed by a
    space or the end, and with arguments of the command's shape: in a group, "<keyword> one day"
    or the keyword inside a sentence is people talking, not a command."""
    match = _KEYWORD_RE.match(text)
    if match is None:
        return None
    slash, word, mention, args = match.group(1), match.group(2), match.group(3), match.group(4).strip()
    found = keyword(word)
    if found is None or (not slash and (mention or not found.bare.match(args))):
        return None
    return ParsedCommand(found.command, mention, args, bare=not slash)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    where: Where
    moderator: bool
    summary: Text
    usage: Text
    handler: Handler
    menu: bool = True


class Registry:
    def __init__(self) -> None:
        self.commands: dict[str, CommandSpec] = {}
        self.aliases: dict[str, str] = {}

    def command(
        self,
        name: str,
        *,
        where: Where = "any",
        moderator: bool = False,
        summary: Text,
        usage: Text,
        aliases: tuple[str, ...] = (),
        menu: bool = True,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.commands[name] = CommandSpec(name, where, moderator, summary, usage, handler, menu)
            for alias in aliases:
                self.aliases[alias] = name
            return handler

        return register

    def include(self, other: Registry) -> None:
        """Take a feature module's commands (``register`` in bot.handlers.features); a name used twice is an error."""
        for name, spec in other.commands.items():
            if name in self.commands or name in self.aliases:
                raise ValueError(f"command /{name} registered twice")
            self.commands[name] = spec
        for alias, name in other.aliases.items():
            if alias in self.commands or alias in self.aliases:
                raise ValueError(f"command alias /{alias} registered twice")
            self.aliases[alias] = name

    def get(self, name: str) -> CommandSpec | None:
        return self.commands.get(self.aliases.get(name, name))

    def visible(self, *, private: bool, moderator: bool) -> list[CommandSpec]:
        kind = "private" if private else "group"
        return [
            spec
            for spec in self.commands.values()
            if spec.menu and spec.where in (kind, "any") and (moderator or not spec.moderator)
        ]

