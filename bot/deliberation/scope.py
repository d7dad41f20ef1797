"""Scopes: the community, one building, or one building unit (entrance).

A part shared only by some owners is decided by those owners alone (Shanghai
property regulations Art. 69), so every proposal and vote carries a scope and all
thresholds are computed inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.deliberation.errors import InvalidInput


class ScopeLevel(StrEnum):
    COMMUNITY = "community"
    BUILDING = "building"
    UNIT = "unit"


_SCOPE_RE = re.compile(r"^(?:(?P<all>all|\*)|(?P<building>[0-9A-Za-z]{1,8})(?:-(?P<unit>[0-9A-Za-z]{1,8}))?)$")


@dataclass(frozen=True, slots=True)
class Scope:
    level: ScopeLevel
    building: str | None = None
    unit: str | None = None

    @classmethod
    def community(cls) -> Scope:
        return cls(ScopeLevel.COMMUNITY)

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Parse ``all``, ``3`` (building) or ``3-2`` (building unit)."""
        match = _SCOPE_RE.match(text.strip())
        if match is None:
            raise InvalidInput(f"bad scope {text!r}", field="scope", value=text)
        if match.group("all"):
            return cls.community()
        building, unit = match.group("building"), match.group("unit")
        if unit is None:
            return cls(ScopeLevel.BUILDING, building)
        return cls(ScopeLevel.UNIT, building, unit)

    def contains(self, building: str, unit: str) -> bool:
        if self.level is ScopeLevel.COMMUNITY:
            return True
        if self.level is ScopeLevel.BUILDING:
            return building == self.building
        return building == self.building and unit == self.unit

    def overlaps(self, other: Scope) -> bool:
        """True when one scope contains the other: a room for 3-2 hears of matters for all, 3 and 3-2."""
        levels = (ScopeLevel.COMMUNITY, ScopeLevel.BUILDING, ScopeLevel.UNIT)
        wide, narrow = sorted((self, other), key=lambda s: levels.index(s.level))
        if wide.level is ScopeLevel.COMMUNITY:
            return True
        if wide.level is ScopeLevel.BUILDING:
            return narrow.building == wide.building
        return narrow == wide

    def __str__(self) -> str:
        if self.level is ScopeLevel.COMMUNITY:
            return "all"
        if self.level is ScopeLevel.BUILDING:
            return str(self.building)
        return f"{self.building}-{self.unit}"
