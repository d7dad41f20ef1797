from __future__ import annotations

import pytest

from bot.deliberation.errors import InvalidInput
from bot.deliberation.schulze import Ranking, schulze

# https://en.wikipedia.org/wiki/Schulze_method#Example
WIKIPEDIA = "5 ACBED, 5 ADECB, 8 BEDAC, 3 CABED, 7 CAEBD, 2 CBADE, 7 DCEBA, 8 EBADC"


def _ballots(spec: str) -> list[tuple[Ranking, int]]:
    out: list[tuple[Ranking, int]] = []
    for part in spec.split(", "):
        count, letters = part.split()
        out.append(([ord(c) - ord("A") for c in letters], int(count)))
    return out


def test_wikipedia_45_voters() -> None:
    result = schulze(5, _ballots(WIKIPEDIA))
    assert result.d == (
        (0, 20, 26, 30, 22),
        (25, 0, 16, 33, 18),
        (19, 29, 0, 17, 24),
        (15, 12, 28, 0, 14),
        (23, 27, 21, 31, 0),
    )
    assert result.p == (
        (0, 28, 28, 30, 24),
        (25, 0, 28, 33, 24),
        (25, 29, 0, 29, 24),
        (25, 28, 28, 0, 24),
        (25, 28, 28, 31, 0),
    )
    assert result.winners == (4,)  # E
    assert result.order == ((4,), (0,), (2,), (1,), (3,))  # E A C B D
    assert result.beats(4, 0) and not result.beats(0, 4)


def test_ballot_order_and_splitting_weights_do_not_matter() -> None:
    ballots = _ballots(WIKIPEDIA)
    split = [(r, 1) for r, w in ballots for _ in range(w)]
    assert schulze(5, list(reversed(split))) == schulze(5, ballots)


def test_ties_inside_a_ranking_and_unranked_options() -> None:
    # A and B tied first, C unranked (below both).
    result = schulze(3, [([{0, 1}], 1)])
    assert result.d == ((0, 0, 1), (0, 0, 1), (0, 0, 0))
    assert result.winners == (0, 1)
    assert result.order == ((0, 1), (2,))


def test_condorcet_cycle_is_broken_by_strength() -> None:
    # A>B 7:2, B>C 6:3, C>A 5:4 (the weakest link, dropped): A wins.
    result = schulze(3, [([0, 1, 2], 4), ([1, 2, 0], 2), ([2, 0, 1], 3)])
    assert result.d[0][1] == 7 and result.d[1][2] == 6 and result.d[2][0] == 5
    assert result.winners == (0,)
    assert result.order == ((0,), (1,), (2,))


def test_no_ballots_ties_everyone() -> None:
    result = schulze(3, [])
    assert result.winners == (0, 1, 2) and result.order == ((0, 1, 2),)


@pytest.mark.parametrize(
    "ballots",
    [
        [([3], 1)],
        [([0, 0], 1)],
        [([0, {0, 1}], 1)],
        [([0], -1)],
        [(["A"], 1)],
        [([True], 1)],
    ],
)
def test_invalid_ballots(ballots: list[tuple[Ranking, int]]) -> None:
    with pytest.raises(InvalidInput):
        schulze(3, ballots)


def test_needs_an_option() -> None:
    with pytest.raises(InvalidInput):
        schulze(0, [])
