from __future__ import annotations

from fractions import Fraction

import pytest

from bot.deliberation.errors import InvalidInput
from bot.deliberation.thresholds import (
    DEFAULT_POLICY,
    SupportPolicy,
    parse_policy,
    progress_bar,
    required_supports,
)


@pytest.mark.parametrize(
    ("households", "need"),
    [
        (12, 5),  # 1/5 of 12 is 2.4 -> 3, below the minimum of 5
        (144, 29),  # 28.8 -> 29
        (25, 5),
        (26, 6),  # 5.2 -> 6: "one fifth or more" includes the bound, rounded up
        (3, 3),  # capped: a unit of 3 households cannot gather 5
        (5, 5),
        (0, 5),  # unknown scope: no cap
    ],
)
def test_default_policy(households: int, need: int) -> None:
    assert required_supports(DEFAULT_POLICY, households) == need


def test_fixed_and_custom_policies() -> None:
    assert required_supports(SupportPolicy(fixed=10), 144) == 10
    assert required_supports(SupportPolicy(fixed=10), 4) == 4
    assert required_supports(SupportPolicy(share=Fraction(1, 3), minimum=0), 10) == 4
    assert required_supports(SupportPolicy(share=Fraction(1, 10), minimum=2), 10) == 2


@pytest.mark.parametrize(
    "kwargs",
    [{"fixed": 0}, {"share": Fraction(0)}, {"share": Fraction(3, 2)}, {"minimum": -1}, {"share": 0.2}],
)
def test_bad_policies(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        SupportPolicy(**kwargs)  # type: ignore[arg-type]


def test_negative_households() -> None:
    with pytest.raises(InvalidInput):
        required_supports(DEFAULT_POLICY, -1)


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("10", SupportPolicy(fixed=10)),
        (" 10 ", SupportPolicy(fixed=10)),
        ("1/5", SupportPolicy(share=Fraction(1, 5))),
        ("20%", SupportPolicy(share=Fraction(1, 5))),
        ("12.5%", SupportPolicy(share=Fraction(1, 8))),
        ("\uff12\uff10\uff05", SupportPolicy(share=Fraction(1, 5))),  # full-width "20%"
        ("100%", SupportPolicy(share=Fraction(1))),
    ],
)
def test_parse_policy(text: str, policy: SupportPolicy) -> None:
    assert parse_policy(text) == policy


@pytest.mark.parametrize("text", ["", "abc", "0", "0/5", "1/0", "6/5", "150%", "0%", "-3", "1.5", "1/5%"])
def test_parse_policy_refuses(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_policy(text)
    assert info.value.params["field"] == "policy"


def test_progress_bar() -> None:
    assert progress_bar(3, 5) == "▓▓▓░░"
    assert progress_bar(0, 5) == "░░░░░"
    assert progress_bar(5, 5) == "▓▓▓▓▓"
    assert progress_bar(9, 5) == "▓▓▓▓▓"
    assert progress_bar(28, 29) == "▓▓▓▓░"  # full only when reached
    assert progress_bar(1, 0) == "▓▓▓▓▓"
    assert progress_bar(-2, 5) == "░░░░░"
    assert progress_bar(5, 10, width=10) == "▓▓▓▓▓░░░░░"
    with pytest.raises(InvalidInput):
        progress_bar(1, 5, width=0)
