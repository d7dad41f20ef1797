"""The Schulze method (beatpath / widest paths), with everything needed to show the work.

Ballots are rankings, best first, with ties allowed: each tier is one option index
or a collection of equally ranked indices. Options a ballot does not list rank
below every listed option and tie among themselves. Each ranking carries a weight
(how many voters cast it). Strength of a link is "winning votes": d[i][j] when
d[i][j] > d[j][i], as in Schulze (2011), "A new monotonic, clone-independent,
reversal symmetric, and Condorcet-consistent single-winner election method".
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from bot.deliberation.errors import InvalidInput

Tier = int | Collection[int]
Ranking = Sequence[Tier]
Matrix = tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True)
class SchulzeResult:
    """``d[i][j]``: voters preferring i to j; ``p[i][j]``: strength of the strongest path i -> j.

    ``order`` lists tiers best first; options in one tier are tied (ascending index).
    ``winners`` is the first tier: possibly several options when nothing separates them.
    """

    candidates: int
    d: Matrix
    p: Matrix
    winners: tuple[int, ...]
    order: tuple[tuple[int, ...], ...]

    def beats(self, i: int, j: int) -> bool:
        return self.p[i][j] > self.p[j][i]


def _is_index(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ranks(candidates: int, ranking: Ranking) -> list[int]:
    """Tier number of each option; unlisted options share the tier after the last."""
    ranks = [len(ranking)] * candidates
    seen: set[int] = set()
    for position, tier in enumerate(ranking):
        if isinstance(tier, str | bytes):
            raise InvalidInput("a tier must hold option indices", field="ranking")
        members: tuple[int, ...] = (tier,) if isinstance(tier, int) else tuple(tier)
        for option in members:
            # Checked at run time too: rankings arrive from button presses and storage.
            if not _is_index(option) or not 0 <= option < candidates:
                raise InvalidInput(f"no option {option!r}", field="ranking", value=option)
            if option in seen:
                raise InvalidInput(f"option {option} ranked twice", field="ranking", value=option)
            seen.add(option)
            ranks[option] = position
    return ranks


def pairwise(candidates: int, ballots: Iterable[tuple[Ranking, int]]) -> Matrix:
    """``d[i][j]``: total weight of ballots ranking i strictly above j."""
    if candidates < 1:
        raise InvalidInput("no options", field="options")
    d = [[0] * candidates for _ in range(candidates)]
    for ranking, weight in ballots:
        if not _is_index(weight) or weight < 0:
            raise InvalidInput(f"bad weight {weight!r}", field="weight", value=weight)
        ranks = _ranks(candidates, ranking)
        for i in range(candidates):
            for j in range(candidates):
                if ranks[i] < ranks[j]:
                    d[i][j] += weight
    return tuple(tuple(row) for row in d)


def strongest_paths(d: Matrix) -> Matrix:
    """Widest paths by a Floyd-Warshall variant; the intermediate option is the outer loop."""
    n = len(d)
    p = [[d[i][j] if i != j and d[i][j] > d[j][i] else 0 for j in range(n)] for i in range(n)]
    for k in range(n):
        for i in range(n):
            if i == k:
                continue
            for j in range(n):
                if j in (i, k):
                    continue
                p[i][j] = max(p[i][j], min(p[i][k], p[k][j]))
    return tuple(tuple(row) for row in p)


def schulze(candidates: int, ballots: Iterable[tuple[Ranking, int]]) -> SchulzeResult:
    """Run the Schulze method over weighted rankings of ``candidates`` options (0..n-1)."""
    d = pairwise(candidates, ballots)
    p = strongest_paths(d)
    # "i beats j" (p[i][j] > p[j][i]) is transitive (Schulze 2011, sec. 4.1), so peeling
    # off the unbeaten options tier by tier always makes progress.
    remaining = list(range(candidates))
    order: list[tuple[int, ...]] = []
    while remaining:
        tier = tuple(i for i in remaining if not any(p[j][i] > p[i][j] for j in remaining if j != i))
        order.append(tier)
        remaining = [i for i in remaining if i not in tier]
    return SchulzeResult(candidates=candidates, d=d, p=p, winners=order[0], order=tuple(order))
