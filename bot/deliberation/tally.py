"""Tallies: count a frozen roll of electors and their ballots against a vote kind.

All counting is exact: heads are ints, areas are ints in hundredths of a square
metre, and every threshold is compared by integer cross-multiplication
(e.g. 3 * A_p >= 2 * A_tot), never with floats.

Let A_tot, N_tot be the eligible area and heads in the vote's scope; A_p, N_p
those who took part; A_y, N_y those voting yes. Abstaining is taking part, not
yes (Civil Code Art. 278).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Final, Literal

from bot.deliberation.errors import InvalidInput, NotEligible
from bot.deliberation.numbers import format_hundredths
from bot.deliberation.schulze import SchulzeResult, schulze
from bot.deliberation.vote_kinds import BallotType, CriterionSpec, Dimension, Op, Quantity, VoteKind

Position = Literal["yes", "no", "abstain"]
POSITIONS: Final[tuple[Position, ...]] = ("yes", "no", "abstain")
Side = Literal["yes", "no"]

# Model covenant clauses that let non-voters count with the majority.
COVENANT_SOURCES: Final = ("Zhejiang 2009 Art. 10", "Liaocheng 2021 Art. 16")


@dataclass(frozen=True, slots=True)
class Elector:
    """One head on the frozen roll; ``area`` in hundredths of a m² (0 where area is not measured).

    For owners' votes one owner is one head however many units they hold, and carries
    the area of all their units in scope (SPC interpretation on building co-ownership, Art. 9).
    """

    key: str
    area: int = 0


@dataclass(frozen=True, slots=True)
class Measure:
    heads: int = 0
    area: int = 0  # hundredths of a square metre

    def __add__(self, other: Measure) -> Measure:
        return Measure(self.heads + other.heads, self.area + other.area)

    def __sub__(self, other: Measure) -> Measure:
        return Measure(self.heads - other.heads, self.area - other.area)

    def of(self, dimension: Dimension) -> int:
        return self.heads if dimension is Dimension.HEADS else self.area

    @property
    def area_m2(self) -> str:
        """Exact square metres with two decimals: 7840 -> "78.40"."""
        return format_hundredths(self.area)


ZERO: Final = Measure()


def percent(value: Fraction) -> str:
    """Exact percentage with 2 decimals, rounded half up: 2/3 -> "66.67%"."""
    return format_hundredths(math.floor(value * 10000 + Fraction(1, 2))) + "%"  # half up, exact


@dataclass(frozen=True, slots=True)
class Criterion:
    """One evaluated threshold: ``numerator op ratio * denominator``."""

    name: str
    measure: Dimension
    numerator: int
    denominator: int
    op: Op
    ratio: Fraction
    met: bool

    @property
    def required(self) -> str:
        return percent(self.ratio)

    @property
    def actual(self) -> str:
        return percent(Fraction(self.numerator, self.denominator)) if self.denominator else "n/a"

    def explain(self) -> str:
        """E.g. "participation_area 78.40% >= 66.67% met"."""
        return f"{self.name} {self.actual} {self.op} {self.required} {'met' if self.met else 'not met'}"


def evaluate(spec: CriterionSpec, counts: Mapping[Quantity, Measure]) -> Criterion:
    numerator = counts[spec.numerator].of(spec.measure)
    denominator = counts[spec.denominator].of(spec.measure)
    if denominator <= 0:
        # An empty base decides nothing: with nobody eligible (or no area recorded), nobody
        # taking part, or only abstentions, a bound such as 0 >= 2/3 * 0 would hold vacuously
        # and a vote of nobody would pass. So a criterion over an empty base is not met.
        met = False
    else:
        # n / d op p / q  <=>  n * q op p * d, since d > 0 and q > 0.
        met = spec.op.holds(numerator * spec.ratio.denominator, spec.ratio.numerator * denominator)
    return Criterion(spec.name, spec.measure, numerator, denominator, spec.op, spec.ratio, met)


class CovenantOutcome(StrEnum):
    APPLIED = "applied"  # non-voters were counted with the majority
    QUORUM_NOT_MET = "quorum_not_met"  # the covenant never creates participation
    SPLIT = "split"  # heads and area point to different sides: nobody follows
    TIE = "tie"  # yes and no are equal in heads or in area: nobody follows
    NO_NON_VOTERS = "no_non_voters"  # everyone voted


@dataclass(frozen=True, slots=True)
class CovenantNote:
    """What the "non-voters follow the majority" clause did, for the chat to cite."""

    outcome: CovenantOutcome
    side: Side | None  # the side non-voters joined, None if nobody followed
    followers: Measure  # heads and area added to ``side`` (ZERO if nobody followed)
    non_voters: Measure
    sources: tuple[str, ...] = COVENANT_SOURCES

    def explain(self) -> str:
        cite = "; ".join(self.sources)
        if self.side is None:
            return f"covenant not applied: {self.outcome} ({cite})"
        return (f"covenant applied: {self.followers.heads} heads, {self.followers.area_m2} m2 "
                f"of non-voters follow {self.side} ({cite})")


@dataclass(frozen=True, slots=True)
class BinaryResult:
    """Outcome of a yes/no vote.

    ``yes``/``no``/``abstain`` are the ballots actually cast; when the covenant applied,
    the followers are in ``covenant.followers`` and inside the approval criteria only.
    """

    kind: str
    eligible: Measure
    participated: Measure
    yes: Measure
    no: Measure
    abstain: Measure
    criteria: tuple[Criterion, ...]
    passed: bool
    covenant: CovenantNote | None = None

    def explain(self) -> tuple[str, ...]:
        return tuple(c.explain() for c in self.criteria)


def _index_roll(kind: VoteKind, roll: Sequence[Elector]) -> dict[str, Elector]:
    electors: dict[str, Elector] = {}
    measure_area = kind.measures_area()
    for elector in roll:
        if elector.key in electors:
            raise InvalidInput(f"{elector.key!r} twice on the roll", field="roll", key=elector.key)
        if isinstance(elector.area, bool) or not isinstance(elector.area, int) or elector.area < 0:
            raise InvalidInput(f"bad area for {elector.key!r}", field="area", key=elector.key)
        electors[elector.key] = elector if measure_area else Elector(elector.key, 0)
    return electors


def _total(electors: Iterable[Elector]) -> Measure:
    heads = area = 0
    for elector in electors:
        heads += 1
        area += elector.area
    return Measure(heads, area)


def _side(yes: int, no: int) -> Side | None:
    if yes > no:
        return "yes"
    if no > yes:
        return "no"
    return None


def _covenant(
    kind: VoteKind, quorum_met: bool, yes: Measure, no: Measure, non_voters: Measure
) -> CovenantNote:
    """Zhejiang 2009 Art. 10; Liaocheng 2021 Art. 16: non-voters count with the voters' majority.

    Only once the quorum is met by real voters, and only when the majority is the same by
    heads and by area (both Civil Code Art. 278 measures): otherwise nobody follows.
    """

    def note(outcome: CovenantOutcome, side: Side | None = None, followers: Measure = ZERO) -> CovenantNote:
        return CovenantNote(outcome, side, followers, non_voters)

    if non_voters.heads == 0:
        return note(CovenantOutcome.NO_NON_VOTERS)
    if not quorum_met:
        return note(CovenantOutcome.QUORUM_NOT_MET)
    sides = [_side(yes.of(d), no.of(d)) for d in kind.measures]
    if None in sides:
        return note(CovenantOutcome.TIE)
    if len(set(sides)) > 1:
        return note(CovenantOutcome.SPLIT)
    side = sides[0]
    assert side is not None
    return note(CovenantOutcome.APPLIED, side, non_voters)


def tally_binary(
    kind: VoteKind,
    roll: Sequence[Elector],
    ballots: Mapping[str, Position],
    *,
    non_voters_follow_majority: bool = False,
) -> BinaryResult:
    """Count a yes/no vote. A ballot whose key is not on the roll raises ``NotEligible``."""
    if kind.ballot is not BallotType.YES_NO:
        raise InvalidInput(f"{kind.name} is not a yes/no kind", field="kind", value=kind.name)
    if non_voters_follow_majority and not kind.covenant:
        raise InvalidInput(
            f"{kind.name} has no covenant", field="non_voters_follow_majority", value=kind.name
        )
    electors = _index_roll(kind, roll)
    sums: dict[str, Measure] = dict.fromkeys(POSITIONS, ZERO)
    for key, position in ballots.items():
        elector = electors.get(key)
        if elector is None:
            raise NotEligible(f"{key!r} is not on the roll", field="ballot", key=key)
        if position not in sums:
            raise InvalidInput(f"bad position {position!r}", field="position", value=position)
        sums[position] += Measure(1, elector.area)
    yes, no, abstain = sums["yes"], sums["no"], sums["abstain"]
    eligible = _total(electors.values())
    participated = yes + no + abstain
    counts = {
        Quantity.ELIGIBLE: eligible,
        Quantity.PARTICIPATED: participated,
        Quantity.YES: yes,
        Quantity.NO: no,
        Quantity.DECISIVE: yes + no,
    }
    criteria = tuple(evaluate(spec, counts) for spec in kind.criteria)
    note: CovenantNote | None = None
    if non_voters_follow_majority:
        pairs = zip(criteria, kind.criteria, strict=True)
        quorum_met = all(c.met for c, spec in pairs if spec.is_participation)
        note = _covenant(kind, quorum_met, yes, no, eligible - participated)
        if note.side is not None:
            # Followers join one side and the approval bases; quorum criteria keep the real
            # voters, so the covenant never creates participation.
            side = Quantity.YES if note.side == "yes" else Quantity.NO
            effective = dict(counts)
            for quantity in (side, Quantity.DECISIVE, Quantity.PARTICIPATED):
                effective[quantity] = counts[quantity] + note.followers
            criteria = tuple(
                c if spec.is_participation else evaluate(spec, effective)
                for c, spec in zip(criteria, kind.criteria, strict=True)
            )
    return BinaryResult(
        kind=kind.name,
        eligible=eligible,
        participated=participated,
        yes=yes,
        no=no,
        abstain=abstain,
        criteria=criteria,
        passed=all(c.met for c in criteria),
        covenant=note,
    )


# --- Option ballots ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChoiceResult:
    """Outcome of a choice, approval or ranked vote.

    ``scores`` per option: heads choosing it (choice), approving it (approval), or ranking
    it first (ranked: first preferences only; Schulze decides). ``order`` groups options
    best first, ties together.
    ``passed`` means there is exactly one winner and every criterion is met.
    """

    kind: str
    eligible: Measure
    participated: Measure
    options: tuple[str, ...]
    scores: tuple[Measure, ...]
    winners: tuple[int, ...]
    criteria: tuple[Criterion, ...]
    passed: bool
    order: tuple[tuple[int, ...], ...] = ()
    schulze: SchulzeResult | None = None


def _check_options(kind: VoteKind, ballot: BallotType, options: Sequence[str]) -> tuple[str, ...]:
    if kind.ballot is not ballot:
        raise InvalidInput(f"{kind.name} is not a {ballot} kind", field="kind", value=kind.name)
    names = tuple(options)
    if len(names) < 2:
        raise InvalidInput("at least two options", field="options")
    if len(set(names)) != len(names):
        raise InvalidInput("repeated option", field="options")
    return names


def _check_indices(indices: Collection[int], n_options: int) -> None:
    for index in indices:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_options:
            raise InvalidInput(f"no option {index!r}", field="option", value=index)


def _electors_of(electors: Mapping[str, Elector], keys: Iterable[str]) -> list[Elector]:
    found = []
    for key in keys:
        elector = electors.get(key)
        if elector is None:
            raise NotEligible(f"{key!r} is not on the roll", field="ballot", key=key)
        found.append(elector)
    return found


def _by_score(scores: Sequence[Measure]) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """(winners, order) by heads; nobody wins with zero votes."""
    levels = sorted({s.heads for s in scores}, reverse=True)
    order = tuple(tuple(i for i, s in enumerate(scores) if s.heads == level) for level in levels)
    winners = order[0] if levels[0] > 0 else ()
    return winners, order


def _subset_tally(
    kind: VoteKind,
    ballot_type: BallotType,
    roll: Sequence[Elector],
    ballots: Mapping[str, frozenset[int]],
    options: Sequence[str],
    max_choices: int,
) -> ChoiceResult:
    names = _check_options(kind, ballot_type, options)
    if isinstance(max_choices, bool) or not isinstance(max_choices, int) or max_choices < 1:
        raise InvalidInput("max_choices must be at least 1", field="max_choices", value=max_choices)
    electors = _index_roll(kind, roll)
    voters = _electors_of(electors, ballots)
    heads = [0] * len(names)
    area = [0] * len(names)
    for elector, chosen in zip(voters, ballots.values(), strict=True):
        _check_indices(chosen, len(names))
        # An empty set is a blank ballot: taking part without choosing.
        if len(set(chosen)) > max_choices:
            raise InvalidInput(f"at most {max_choices} choices", field="choices", value=len(chosen))
        for index in set(chosen):
            heads[index] += 1
            area[index] += elector.area
    scores = tuple(Measure(h, a) for h, a in zip(heads, area, strict=True))
    winners, order = _by_score(scores)
    return _choice_result(kind, electors, voters, names, scores, winners, order)


def _choice_result(
    kind: VoteKind,
    electors: Mapping[str, Elector],
    voters: Sequence[Elector],
    names: tuple[str, ...],
    scores: tuple[Measure, ...],
    winners: tuple[int, ...],
    order: tuple[tuple[int, ...], ...],
    result: SchulzeResult | None = None,
) -> ChoiceResult:
    eligible = _total(electors.values())
    participated = _total(voters)
    # vote_kinds.py admits only participated/eligible criteria for option ballots.
    counts = {Quantity.ELIGIBLE: eligible, Quantity.PARTICIPATED: participated}
    criteria = tuple(evaluate(spec, counts) for spec in kind.criteria)
    return ChoiceResult(
        kind=kind.name,
        eligible=eligible,
        participated=participated,
        options=names,
        scores=scores,
        winners=winners,
        criteria=criteria,
        passed=len(winners) == 1 and all(c.met for c in criteria),
        order=order,
        schulze=result,
    )


def tally_choice(
    kind: VoteKind,
    roll: Sequence[Elector],
    ballots: Mapping[str, frozenset[int]],
    options: Sequence[str],
    max_choices: int = 1,
) -> ChoiceResult:
    """Single (``max_choices=1``) or multiple choice; the most heads wins (plurality)."""
    return _subset_tally(kind, BallotType.CHOICE, roll, ballots, options, max_choices)


def tally_approval(
    kind: VoteKind,
    roll: Sequence[Elector],
    ballots: Mapping[str, frozenset[int]],
    options: Sequence[str],
) -> ChoiceResult:
    """Approve any subset; the most approvals wins."""
    return _subset_tally(kind, BallotType.APPROVAL, roll, ballots, options, max(1, len(options)))


def tally_ranked(
    kind: VoteKind,
    roll: Sequence[Elector],
    ballots: Mapping[str, Sequence[int]],
    options: Sequence[str],
) -> ChoiceResult:
    """Rankings list option indices best first; unranked options rank below all ranked ones.

    Decided by the Schulze method; an empty ranking is a blank ballot (takes part, no preference).
    """
    names = _check_options(kind, BallotType.RANKED, options)
    electors = _index_roll(kind, roll)
    voters = _electors_of(electors, ballots)
    grouped: Counter[tuple[int, ...]] = Counter()
    first = [0] * len(names)
    for ranking in ballots.values():
        ranked = tuple(ranking)
        _check_indices(ranked, len(names))
        if len(set(ranked)) != len(ranked):
            raise InvalidInput("an option ranked twice", field="ranking")
        grouped[ranked] += 1
        if ranked:
            first[ranked[0]] += 1
    # Sorted so that the outcome cannot depend on the order ballots arrived in.
    result = schulze(len(names), sorted(grouped.items()))
    expressed = any(ranking for ranking in grouped)  # someone ranked at least one option
    winners = result.winners if expressed else ()
    scores = tuple(Measure(heads=h) for h in first)
    return _choice_result(kind, electors, voters, names, scores, winners, result.order, result)


def owners_roll(holdings: Iterable[tuple[str, int]]) -> tuple[Elector, ...]:
    """The owners' roll from (owner key, unit area) pairs of the units in scope.

    One head per owner however many units they hold, with the area of all of them;
    a developer's unsold units share one owner key and so count once; co-owners of a
    unit share its one key (SPC interpretation on building co-ownership, Art. 9).
    """
    areas: dict[str, int] = {}
    for owner, area in holdings:
        if isinstance(area, bool) or not isinstance(area, int) or area < 0:
            raise InvalidInput(f"bad area for {owner!r}", field="area", key=owner)
        areas[owner] = areas.get(owner, 0) + area
    return tuple(Elector(owner, area) for owner, area in areas.items())
