"""How many co-signatures a matter needs before moderators review it.

The default follows the bar for convening a residents' meeting (Organic Law of
Urban Residents' Committees, Art. 10: a meeting must be convened when one fifth
or more of the households propose it, the bound included): the larger of 5
households and 1/5 of the households in scope, so a tiny scope still needs
several neighbours.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

from bot.deliberation.errors import InvalidInput

FILLED = "\u2593"  # ▓
EMPTY = "\u2591"  # ░


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class SupportPolicy:
    fixed: int | None = None  # an absolute number of households, if set
    share: Fraction = Fraction(1, 5)
    minimum: int = 5

    def __post_init__(self) -> None:
        if self.fixed is not None and (not _is_int(self.fixed) or self.fixed < 1):
            raise InvalidInput("fixed threshold must be at least 1", field="policy", value=self.fixed)
        if not isinstance(self.share, Fraction) or not 0 < self.share <= 1:
            raise InvalidInput("share must be a fraction in (0, 1]", field="policy", value=str(self.share))
        if not _is_int(self.minimum) or self.minimum < 0:
            raise InvalidInput("minimum must not be negative", field="policy", value=self.minimum)


DEFAULT_POLICY = SupportPolicy()


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)


def required_supports(policy: SupportPolicy, households_in_scope: int) -> int:
    """Co-signatures needed: ``fixed`` if set, else max(minimum, ceil(share * households)).

    Capped at the number of households in scope when that is smaller and positive: a
    building unit of 4 households could otherwise never reach a bar of 5, and a
    matter that every household signs must get a hearing. With 0 households (scope
    unknown or empty) nothing is capped; nobody there can sign anyway.
    """
    if not _is_int(households_in_scope) or households_in_scope < 0:
        raise InvalidInput("negative household count", field="households", value=households_in_scope)
    need = policy.fixed if policy.fixed is not None else max(policy.minimum, _ceil(policy.share * households_in_scope))
    if 0 < households_in_scope < need:
        need = households_in_scope
    return need


_INT_RE = re.compile(r"^[0-9]+$")
_FRACTION_RE = re.compile(r"^(?P<num>[0-9]+)/(?P<den>[0-9]+)$")
_PERCENT_RE = re.compile(r"^(?P<value>[0-9]+(?:\.[0-9]+)?)%$")


def parse_policy(text: str) -> SupportPolicy:
    """``"10"`` (fixed households), ``"1/5"`` (share) or ``"20%"`` (share); minimum stays 5."""
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    try:
        if _INT_RE.match(cleaned):
            return SupportPolicy(fixed=int(cleaned))
        if match := _FRACTION_RE.match(cleaned):
            if int(match.group("den")) == 0:
                raise InvalidInput("zero denominator", field="policy", value=text)
            return SupportPolicy(share=Fraction(int(match.group("num")), int(match.group("den"))))
        if match := _PERCENT_RE.match(cleaned):
            # Fraction parses the decimal string exactly: "12.5" -> 25/2.
            return SupportPolicy(share=Fraction(match.group("value")) / 100)
    except InvalidInput as exc:
        raise InvalidInput(str(exc), field="policy", value=text) from exc
    raise InvalidInput(f"bad threshold {text!r}", field="policy", value=text)


def progress_bar(have: int, need: int, width: int = 5) -> str:
    """E.g. 3 of 5 -> "▓▓▓░░"; full only once ``have`` reaches ``need`` (rounded down)."""
    if width < 1:
        raise InvalidInput("width must be at least 1", field="width", value=width)
    # Nothing needed is a full bar; otherwise round down so the bar fills only at the goal.
    filled = width if need <= 0 else min(width, max(0, have) * width // need)
    return FILLED * filled + EMPTY * (width - filled)
