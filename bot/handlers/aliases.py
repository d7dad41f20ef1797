"""Chinese keywords for commands and the Chinese forms of their arguments (bot/handlers/aliases.toml).

Kept as data so that no Chinese appears in the Python code, and handled here, in the handlers, so that
every transport (and any later surface) understands them the same way.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bot.handlers.errors import UsageError

_FLAGS = re.IGNORECASE | re.DOTALL


@dataclass(frozen=True, slots=True)
class Keyword:
    command: str
    bare: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Words:
    keywords: dict[str, Keyword]  # keyword (lowercase) -> command
    by_command: dict[str, tuple[str, ...]]  # command -> its keywords, in file order
    tables: dict[str, dict[str, str]]  # argument tables: word (lowercase) -> code
    scope_all: frozenset[str]
    scope_building: re.Pattern[str]
    scope_unit: re.Pattern[str]


def load_words(text: str) -> Words:
    """Parse and check the keyword file; a duplicate keyword is an error, not a silent override."""
    data: dict[str, Any] = tomllib.loads(text)
    keywords: dict[str, Keyword] = {}
    by_command: dict[str, tuple[str, ...]] = {}
    for command, spec in data["commands"].items():
        pattern = re.compile(spec["bare"], _FLAGS)
        words = tuple(spec["words"])
        by_command[command] = words
        for word in words:
            key = word.lower()
            if key in keywords or re.search(r"\s|/|@", key) or not key:
                raise ValueError(f"aliases.toml: bad or repeated keyword {word!r}")
            keywords[key] = Keyword(command, pattern)
    tables = {
        name: {str(k).lower(): str(v) for k, v in table.items()}
        for name, table in data.items()
        if name not in ("commands", "scopes")
    }
    scopes = data["scopes"]
    return Words(
        keywords,
        by_command,
        tables,
        frozenset(w.lower() for w in scopes["all"]),
        re.compile(scopes["building"], _FLAGS),
        re.compile(scopes["unit"], _FLAGS),
    )


@cache
def words() -> Words:
    return load_words(resources.files("bot.handlers").joinpath("aliases.toml").read_text(encoding="utf-8"))


def keyword(word: str) -> Keyword | None:
    return words().keywords.get(word.lower())


def keywords_of(command: str) -> tuple[str, ...]:
    return words().by_command.get(command, ())


def code(table: str, word: str) -> str | None:
    """The code a Chinese (or English) argument word stands for in ``table``, or None."""
    return words().tables[table].get(word.strip().lower())


def english_or_code(table: str, word: str, codes: tuple[str, ...] | dict[str, Any]) -> str | None:
    """``word`` when it is already one of ``codes`` (the English form), else its code from ``table``."""
    lowered = word.strip().lower()
    if lowered in codes:
        return lowered
    return code(table, lowered)


def argument(table: str, word: str, codes: tuple[str, ...] | dict[str, Any]) -> str:
    """An argument word as its code. An unknown English word goes on as typed (the service explains
    what it accepts, as before); an unknown word in another script gets the command's usage line."""
    found = english_or_code(table, word, codes)
    if found is not None:
        return found
    if not word.isascii():
        raise UsageError()
    return word.strip().lower()


def scope_text(text: str) -> str:
    """A scope written in Chinese (the whole community, building 3, building 3 unit 2) in the form
    Scope.parse reads (all, 3, 3-2); the patterns are in aliases.toml."""
    stripped = text.strip()
    if stripped.lower() in words().scope_all:
        return "all"
    if match := words().scope_building.match(stripped):
        return match.group("building")
    if match := words().scope_unit.match(stripped):
        return f"{match.group('building')}-{match.group('unit')}"
    return stripped


def join_days(tokens: list[str]) -> list[str]:
    """A number of days with a unit of aliases.toml, glued or as two words, becomes ``<n>d``
    (``10d``); other words stay as they are."""
    units = words().tables["days"]
    out: list[str] = []
    for token in tokens:
        lowered = token.lower()
        if out and out[-1].isdigit() and lowered in units:
            out[-1] += "d"
            continue
        match = re.fullmatch(r"(\d{1,3})(\D+)", lowered)
        if match and match.group(2) in units:
            token = match.group(1) + "d"
        out.append(token)
    return out
