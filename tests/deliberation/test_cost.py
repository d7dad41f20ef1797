from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.deliberation.cost import BY_AREA, GUANGZHOU_COEFFICIENTS, FloorCoefficients, Home, share_costs
from bot.deliberation.errors import InvalidInput


def test_guangzhou_coefficients() -> None:
    expected = {1: 0, 2: Fraction(1, 2), 3: 1, 4: Fraction(11, 10), 5: Fraction(6, 5), 6: Fraction(13, 10)}
    for floor, coef in expected.items():
        assert GUANGZHOU_COEFFICIENTS(floor) == coef
    for floor in range(7, 40):
        assert GUANGZHOU_COEFFICIENTS(floor) == 1 + Fraction(floor - 3, 10)
    assert BY_AREA(1) == BY_AREA(33) == 1
    with pytest.raises(InvalidInput):
        GUANGZHOU_COEFFICIENTS(0)


def test_six_storey_known_answer() -> None:
    # Weights 0, .5, 1, 1.1, 1.2, 1.3 (sum 5.1) on equal areas; CNY 6,000.00.
    homes = [Home(f"{floor}01", floor, 10000) for floor in range(1, 7)]
    shares = share_costs(homes, 600000, coefficients=GUANGZHOU_COEFFICIENTS)
    # Exact: 0, 58823.53, 117647.06, 129411.76, 141176.47, 152941.18; the two fen
    # left after rounding down go to the largest remainders (.76 and .53).
    assert shares == {"101": 0, "201": 58824, "301": 117647, "401": 129412, "501": 141176, "601": 152941}


def test_subsidy_is_deducted_first() -> None:
    homes = [Home("a", 2, 5000), Home("b", 3, 5000)]
    # Chengdu-style subsidy of CNY 200,000 on a CNY 500,000 elevator.
    shares = share_costs(homes, 50_000_000, 20_000_000, GUANGZHOU_COEFFICIENTS)
    assert shares == {"a": 10_000_000, "b": 20_000_000}


def test_default_is_by_area() -> None:
    homes = [Home("a", 1, 6000), Home("b", 6, 3000)]
    assert share_costs(homes, 900) == {"a": 600, "b": 300}
    assert share_costs(homes, 900) == share_costs(homes, 900, coefficients=BY_AREA)


def test_ties_broken_by_key() -> None:
    homes = [Home("b", 3, 100), Home("a", 3, 100), Home("c", 3, 100)]
    assert share_costs(homes, 2) == {"b": 1, "a": 1, "c": 0}
    assert list(share_costs(homes, 2)) == ["b", "a", "c"]  # the order given


def test_mapping_coefficients() -> None:
    table = {1: Fraction(0), 2: Fraction(1), 3: Fraction(2)}
    homes = [Home("a", 1, 100), Home("b", 2, 100), Home("c", 3, 100)]
    assert share_costs(homes, 300, coefficients=table) == {"a": 0, "b": 100, "c": 200}
    with pytest.raises(InvalidInput):
        share_costs([Home("d", 4, 100)], 300, coefficients=table)
    with pytest.raises(InvalidInput):
        share_costs(homes, 300, coefficients={1: 0.5, 2: 1, 3: 1})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput):
        share_costs(homes, 300, coefficients={1: Fraction(-1), 2: Fraction(1), 3: Fraction(1)})


@pytest.mark.parametrize(
    ("homes", "total", "subsidy"),
    [
        ([Home("a", 2, 100)], 100, 101),  # subsidy above the total
        ([Home("a", 2, 100)], -1, 0),
        ([Home("a", 2, 100)], 100, -1),
        ([Home("a", 1, 100), Home("b", 1, 200)], 100, 0),  # all on floor 1: no weight
        ([], 100, 0),
        ([Home("a", 2, 0)], 100, 0),
        ([Home("a", 2, -5)], 100, 0),
        ([Home("a", 2, 100), Home("a", 3, 100)], 100, 0),
    ],
)
def test_refusals(homes: list[Home], total: int, subsidy: int) -> None:
    with pytest.raises(InvalidInput):
        share_costs(homes, total, subsidy, GUANGZHOU_COEFFICIENTS)


buildings = st.lists(
    st.tuples(st.integers(1, 33), st.integers(0, 30000)), min_size=1, max_size=40
).map(lambda rows: [Home(f"h{i:02d}", floor, area) for i, (floor, area) in enumerate(rows)] +
      [Home("top", 6, 8000)])  # at least one home with weight under every rule
amounts = st.integers(0, 10**9).flatmap(lambda total: st.tuples(st.just(total), st.integers(0, total)))
rules = st.sampled_from(
    [GUANGZHOU_COEFFICIENTS, BY_AREA, FloorCoefficients((Fraction(1, 3), Fraction(7, 3)))]
)


@settings(max_examples=200, deadline=None)
@given(buildings, amounts, rules)
def test_shares_sum_exactly_and_are_monotone(
    homes: list[Home], money: tuple[int, int], rule: FloorCoefficients
) -> None:
    total, subsidy = money
    shares = share_costs(homes, total, subsidy, rule)
    assert sum(shares.values()) == total - subsidy
    assert all(share >= 0 for share in shares.values())
    weights = {h.key: rule(h.floor) * h.area for h in homes}
    for a in homes:
        for b in homes:
            if weights[a.key] > weights[b.key]:
                assert shares[a.key] >= shares[b.key]
            if weights[a.key] == weights[b.key]:
                assert abs(shares[a.key] - shares[b.key]) <= 1
    if rule is GUANGZHOU_COEFFICIENTS:
        assert all(shares[h.key] == 0 for h in homes if h.floor == 1)
