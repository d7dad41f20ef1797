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
        """Whether the two scopes share a home: one contains the other (a room "3" sees votes of "3-2")."""
        if ScopeLevel.COMMUNITY in (self.level, other.level):
            return True
        if self.building != other.building:
            return False
        return ScopeLevel.BUILDING in (self.level, other.level) or self.unit == other.unit

    def __str__(self) -> str:
        if self.level is ScopeLevel.COMMUNITY:
            return "all"
        if self.level is ScopeLevel.BUILDING:
            return str(self.building)
        return f"{self.building}-{self.unit}"
