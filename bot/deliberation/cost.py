"""Sharing the cost of adding an elevator to an existing building.

share_i = coef_i * area_i / sum_j(coef_j * area_j) * (total - subsidy), in whole fen,
rounded by the largest-remainder method so that the shares add up exactly to what
the owners must pay. Coefficients are exact Fractions; areas are ints in hundredths
of a square metre.
"""

# 既有住宅加装电梯 (adding elevators to existing residential buildings)

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from bot.deliberation.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Home:
    key: str
    floor: int
    area: int  # hundredths of a square metre


@dataclass(frozen=True, slots=True)
class FloorCoefficients:
    """A coefficient per floor: ``table[0]`` is floor 1; above the table each floor adds ``step``."""

    table: tuple[Fraction, ...]
    step: Fraction = Fraction(0)

    def __call__(self, floor: int) -> Fraction:
        if floor < 1:
            raise InvalidInput(f"no coefficient for floor {floor}", field="floor", value=floor)
        if floor <= len(self.table):
            return self.table[floor - 1]
        return self.table[-1] + self.step * (floor - len(self.table))


# Guangzhou reference coefficients: floor 1: 0, 2: 0.5, 3: 1.0, 4: 1.1, 5: 1.2, 6: 1.3,
# and 1 + 0.1 * (n - 3) above the sixth floor (1.3 + 0.1 per floor continues that line).
GUANGZHOU_COEFFICIENTS: Final = FloorCoefficients(
    table=(Fraction(0), Fraction(1, 2), Fraction(1), Fraction(11, 10), Fraction(6, 5), Fraction(13, 10)),
    step=Fraction(1, 10),
)

# Without an agreement on coefficients the cost is split by area: coefficient 1 on every floor.
BY_AREA: Final = FloorCoefficients(table=(Fraction(1),))

Coefficients = Mapping[int, Fraction] | Callable[[int], Fraction]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _coefficient(coefficients: Coefficients, floor: int) -> Fraction:
    if isinstance(coefficients, Mapping):
        if floor not in coefficients:
            raise InvalidInput(f"no coefficient for floor {floor}", field="floor", value=floor)
        value: object = coefficients[floor]
    else:
        value = coefficients(floor)
    # Exact arithmetic only: a float coefficient would make shares depend on rounding noise.
    if isinstance(value, bool) or not isinstance(value, int | Fraction) or value < 0:
        raise InvalidInput(f"bad coefficient {value!r} for floor {floor}", field="coefficient", value=floor)
    return Fraction(value)


def share_costs(
    homes: Iterable[Home],
    total_fen: int,
    subsidy_fen: int = 0,
    coefficients: Coefficients | None = None,
) -> dict[str, int]:
    """Each home's share in fen, in the order given; the shares sum exactly to total - subsidy.

    ``coefficients`` defaults to ``BY_AREA``: without an agreement the cost is split by area.
    Pass ``GUANGZHOU_COEFFICIENTS`` (or the agreed table) to weight by floor.
    Remainders are distributed by largest remainder, ties broken by home key, so the
    result is deterministic. Raises ``InvalidInput`` for negative amounts, a subsidy above
    the total, repeated keys, negative areas, or when every weight is zero.
    """
    homes = tuple(homes)
    if not _is_int(total_fen) or not _is_int(subsidy_fen) or total_fen < 0 or subsidy_fen < 0:
        raise InvalidInput("amounts must be non-negative fen", field="amount")
    if subsidy_fen > total_fen:
        raise InvalidInput("subsidy exceeds the total", field="subsidy", value=subsidy_fen)
    rule: Coefficients = BY_AREA if coefficients is None else coefficients
    keys = [home.key for home in homes]
    if len(set(keys)) != len(keys):
        raise InvalidInput("a home listed twice", field="homes")
    weights: list[Fraction] = []
    for home in homes:
        if not _is_int(home.area) or home.area < 0:
            raise InvalidInput(f"bad area for {home.key!r}", field="area", key=home.key)
        weights.append(_coefficient(rule, home.floor) * home.area)
    total_weight = sum(weights, Fraction(0))
    if total_weight == 0:
        raise InvalidInput("nobody carries any weight", field="homes")
    amount = total_fen - subsidy_fen
    exact = [amount * w / total_weight for w in weights]
    shares = [math.floor(x) for x in exact]
    # Largest remainder (Hamilton): the sum of remainders is a whole number of fen smaller
    # than the number of homes with a positive remainder, so a zero weight never gets a fen.
    left = amount - sum(shares)
    by_remainder = sorted(range(len(homes)), key=lambda i: (-(exact[i] - shares[i]), homes[i].key))
    for i in by_remainder[:left]:
        shares[i] += 1
    return {home.key: share for home, share in zip(homes, shares, strict=True)}
