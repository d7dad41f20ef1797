from __future__ import annotations

import random
from collections.abc import Sequence
from fractions import Fraction
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.deliberation.errors import InvalidInput, NotEligible
from bot.deliberation.tally import (
    BinaryResult,
    CovenantOutcome,
    Criterion,
    Elector,
    Measure,
    Position,
    owners_roll,
    percent,
    tally_approval,
    tally_binary,
    tally_choice,
    tally_ranked,
)
from bot.deliberation.vote_kinds import (
    BallotType,
    CriterionSpec,
    Dimension,
    Electorate,
    Op,
    Quantity,
    VoteKind,
    get_kind,
)

ART278 = get_kind("art278")
MAJOR = get_kind("art278_major")


def roll(*areas: int) -> list[Elector]:
    return [Elector(f"o{i}", area) for i, area in enumerate(areas)]


def ballots(people: Sequence[Elector], *positions: str) -> dict[str, Position]:
    """The first electors of ``people`` cast ``positions`` in order; the rest do not vote."""
    return {e.key: cast(Position, p) for e, p in zip(people, positions, strict=False)}


def met(result: BinaryResult) -> dict[str, bool]:
    return {c.name: c.met for c in result.criteria}


# --- rendering -------------------------------------------------------------------------


def test_measure_area_m2() -> None:
    assert Measure(1, 7840).area_m2 == "78.40"
    assert Measure(1, 5).area_m2 == "0.05"
    assert Measure().area_m2 == "0.00"
    assert Measure(1, 2) + Measure(3, 4) == Measure(4, 6)


def test_percent_rounds_half_up_exactly() -> None:
    assert percent(Fraction(2, 3)) == "66.67%"
    assert percent(Fraction(1, 6)) == "16.67%"
    assert percent(Fraction(5, 6)) == "83.33%"
    assert percent(Fraction(1, 20000)) == "0.01%"  # 0.005% is a half: rounds up
    assert percent(Fraction(1, 20001)) == "0.00%"
    assert percent(Fraction(7840, 10000)) == "78.40%"
    assert percent(Fraction(1)) == "100.00%"


def test_criterion_explain() -> None:
    c = Criterion("participation_area", Dimension.AREA, 7840, 10000, Op.GE, Fraction(2, 3), True)
    assert c.required == "66.67%"
    assert c.actual == "78.40%"
    assert c.explain() == "participation_area 78.40% >= 66.67% met"
    empty = Criterion("approval_heads", Dimension.HEADS, 0, 0, Op.GT, Fraction(1, 2), False)
    assert empty.explain() == "approval_heads n/a > 50.00% not met"


# --- Civil Code Art. 278 quorum ------------------------------------------------------------


def test_participation_area_exactly_two_thirds_passes() -> None:
    # Five voters of 20.00 m² and a non-voter of 50.00 m²: A_p = 100.00 of 150.00 m² = 2/3.
    people = roll(2000, 2000, 2000, 2000, 2000, 5000)
    result = tally_binary(ART278, people, ballots(people, *["yes"] * 5))
    assert result.participated == Measure(5, 10000)
    assert result.eligible == Measure(6, 15000)
    assert met(result)["participation_area"]
    assert result.passed
    assert result.criteria[0].explain() == "participation_area 66.67% >= 66.67% met"


def test_participation_area_one_hundredth_short_fails() -> None:
    people = roll(2000, 2000, 2000, 2000, 1999, 5001)  # same total, A_p = 99.99 m²
    result = tally_binary(ART278, people, ballots(people, *["yes"] * 5))
    assert met(result) == {
        "participation_area": False,
        "participation_heads": True,
        "approval_area": True,
        "approval_heads": True,
    }
    assert not result.passed


def test_participation_heads_exactly_two_thirds_passes_one_less_fails() -> None:
    # Nine owners; the voters hold nearly all the area so only heads decide.
    people = roll(*[10000] * 6, 1, 1, 1)
    passing = tally_binary(ART278, people, ballots(people, *["yes"] * 6))
    assert passing.participated.heads == 6 and passing.eligible.heads == 9
    assert met(passing)["participation_heads"] and passing.passed
    short = roll(*[10000] * 5, 5000, 1, 1, 1)  # five voters: 5/9 < 2/3
    failing = tally_binary(ART278, short, ballots(short, *["yes"] * 5))
    assert met(failing)["participation_area"]
    assert not met(failing)["participation_heads"]
    assert not failing.passed


# --- approval ------------------------------------------------------------------------------


def test_major_exactly_three_quarters_passes() -> None:
    people = roll(2500, 2500, 2500, 2500)
    result = tally_binary(MAJOR, people, ballots(people, "yes", "yes", "yes", "no"))
    assert result.yes == Measure(3, 7500)
    assert all(met(result).values()) and result.passed


def test_major_one_hundredth_short_by_area_fails() -> None:
    people = roll(2500, 2500, 2499, 2501)
    result = tally_binary(MAJOR, people, ballots(people, "yes", "yes", "yes", "no"))
    assert met(result)["approval_heads"]  # still 3 of 4 heads
    assert not met(result)["approval_area"]  # 74.99 of 100.00 m²
    assert not result.passed


def test_major_one_head_short_fails() -> None:
    # Eight owners: six yes is exactly 3/4; five yes is not, though the area still is.
    people = roll(*[1000] * 8)
    assert tally_binary(MAJOR, people, ballots(people, *["yes"] * 6, "no", "no")).passed
    heavy = roll(5000, 5000, 5000, 5000, 5000, 100, 100, 100)
    result = tally_binary(MAJOR, heavy, ballots(heavy, *["yes"] * 5, "no", "no", "no"))
    assert met(result)["approval_area"] and not met(result)["approval_heads"]
    assert not result.passed


def test_exactly_half_fails_ordinary_matter() -> None:
    people = roll(2500, 2500, 2500, 2500)
    result = tally_binary(ART278, people, ballots(people, "yes", "yes", "no", "no"))
    assert not met(result)["approval_area"] and not met(result)["approval_heads"]
    assert not result.passed
    # Half the area but 3 of 4 heads: fails by area; one hundredth more passes.
    half = roll(1667, 1667, 1666, 5000)
    assert not tally_binary(ART278, half, ballots(half, "yes", "yes", "yes", "no")).passed
    more = roll(1667, 1667, 1667, 4999)
    assert tally_binary(ART278, more, ballots(more, "yes", "yes", "yes", "no")).passed


def test_abstentions_take_part_but_are_not_yes() -> None:
    people = roll(1000, 1000, 1000)
    result = tally_binary(ART278, people, ballots(people, "yes", "abstain", "abstain"))
    assert result.participated == Measure(3, 3000)
    assert result.yes == Measure(1, 1000)
    assert result.abstain == Measure(2, 2000)
    assert met(result)["participation_heads"] and not met(result)["approval_heads"]
    assert not result.passed


def test_simple_majority_ignores_abstentions() -> None:
    simple = get_kind("simple")
    people = roll(*[0] * 7)
    assert tally_binary(simple, people, ballots(people, "yes", *["abstain"] * 5)).passed
    assert not tally_binary(simple, people, ballots(people, "yes", "no", "abstain")).passed
    # Only abstentions: no ballot decides, so nothing passes.
    assert not tally_binary(simple, people, ballots(people, "abstain", "abstain")).passed


def test_residents_meeting() -> None:
    meeting = get_kind("residents_meeting")
    people = roll(*[0] * 10)
    assert not tally_binary(meeting, people, ballots(people, *["yes"] * 5)).passed  # 5/10 not > 1/2
    assert tally_binary(meeting, people, ballots(people, *["yes"] * 4, "no", "abstain")).passed
    assert not tally_binary(meeting, people, ballots(people, *["yes"] * 3, "no", "abstain", "abstain")).passed


def test_council_counts_all_members_as_approval_base() -> None:
    council = get_kind("council")
    members = roll(*[0] * 9)
    # Five present, four yes: 4/5 of those present but 4/9 of all members.
    result = tally_binary(council, members, ballots(members, "yes", "yes", "yes", "yes", "no"))
    assert met(result) == {"participation_heads": True, "approval_heads": False}
    assert result.criteria[1].denominator == 9
    assert tally_binary(council, members, ballots(members, *["yes"] * 5)).passed
    # Four present, all yes: not a quorum.
    assert not tally_binary(council, members, ballots(members, *["yes"] * 4)).passed


def test_area_is_ignored_where_not_measured() -> None:
    people = roll(5000, 10)
    result = tally_binary(get_kind("council"), people, ballots(people, "yes", "yes"))
    assert result.eligible == Measure(2, 0)


def test_objection_at_exactly_one_third_passes_above_fails() -> None:
    objection = get_kind("objection")
    people = roll(*[1000] * 9)
    assert tally_binary(objection, people, {}).passed  # silence is no objection
    assert tally_binary(objection, people, ballots(people, "no", "no", "no")).passed
    assert not tally_binary(objection, people, ballots(people, "no", "no", "no", "no")).passed
    # By area: 100.00 of 300.00 m² object -> passes; 100.01 -> fails (heads 1 of 3 either way).
    big = roll(10000, 10000, 10000)
    assert tally_binary(objection, big, ballots(big, "no", "yes")).passed
    bigger = roll(10001, 9999, 10000)
    result = tally_binary(objection, bigger, ballots(bigger, "no", "yes"))
    assert met(result) == {"objection_area": False, "objection_heads": True}
    assert not result.passed


# --- refusals ------------------------------------------------------------------------------


def test_ballot_not_on_roll_is_not_eligible() -> None:
    with pytest.raises(NotEligible):
        tally_binary(ART278, roll(100), {"stranger": "yes"})


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInput):
        tally_binary(ART278, [Elector("a", 1), Elector("a", 2)], {})
    with pytest.raises(InvalidInput):
        tally_binary(ART278, [Elector("a", -1)], {})
    with pytest.raises(InvalidInput):
        tally_binary(ART278, roll(1), {"o0": "maybe"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput):
        tally_binary(get_kind("choice"), roll(1), {})
    with pytest.raises(InvalidInput):
        tally_binary(get_kind("residents_meeting"), roll(1), {}, non_voters_follow_majority=True)


def test_empty_roll_never_passes() -> None:
    assert not tally_binary(ART278, [], {}).passed
    assert not tally_binary(get_kind("objection"), [], {}).passed


def test_owners_roll_counts_one_head_per_owner() -> None:
    # Interpretation Art. 9: an owner of two units is one head with both areas.
    assert owners_roll([("A", 7000), ("B", 6000), ("A", 5000)]) == (Elector("A", 12000), Elector("B", 6000))


# --- covenant: non-voters follow the majority ------------------------------------------------


def test_covenant_off_by_default() -> None:
    people = roll(*[10000] * 12)
    result = tally_binary(MAJOR, people, ballots(people, *["yes"] * 6, *["no"] * 3))
    assert result.covenant is None
    assert not result.passed  # 6 of 9 is below 3/4


def test_covenant_adds_followers_to_majority_and_cites() -> None:
    people = roll(*[10000] * 12)
    result = tally_binary(
        MAJOR, people, ballots(people, *["yes"] * 6, *["no"] * 3), non_voters_follow_majority=True
    )
    note = result.covenant
    assert note is not None
    assert note.outcome is CovenantOutcome.APPLIED and note.side == "yes"
    assert note.followers == Measure(3, 30000)
    assert "Zhejiang 2009 Art. 10" in note.sources and "Liaocheng 2021 Art. 16" in note.sources
    assert note.explain().startswith("covenant applied: 3 heads, 300.00 m2 of non-voters follow yes")
    # Real ballots are reported unchanged; participation counts real voters only.
    assert result.yes == Measure(6, 60000) and result.participated == Measure(9, 90000)
    by_name = {c.name: c for c in result.criteria}
    assert by_name["participation_heads"].numerator == 9
    assert (by_name["approval_heads"].numerator, by_name["approval_heads"].denominator) == (9, 12)
    assert result.passed


def test_covenant_never_creates_participation() -> None:
    people = roll(*[10000] * 9)
    result = tally_binary(ART278, people, ballots(people, *["yes"] * 5), non_voters_follow_majority=True)
    assert result.covenant is not None
    assert result.covenant.outcome is CovenantOutcome.QUORUM_NOT_MET
    assert result.covenant.side is None and result.covenant.followers == Measure()
    assert not met(result)["participation_heads"] and not result.passed


def test_covenant_follows_a_no_majority() -> None:
    people = roll(*[10000] * 12)
    result = tally_binary(
        ART278, people, ballots(people, *["yes"] * 4, *["no"] * 5), non_voters_follow_majority=True
    )
    assert result.covenant is not None and result.covenant.side == "no"
    by_name = {c.name: c for c in result.criteria}
    assert (by_name["approval_heads"].numerator, by_name["approval_heads"].denominator) == (4, 12)
    assert not result.passed


def test_covenant_split_or_tie_means_nobody_follows() -> None:
    # Heads say yes (5 to 4), area says no.
    people = roll(*[1000] * 5, *[5000] * 4, 1000, 1000, 1000)
    split = tally_binary(
        ART278, people, ballots(people, *["yes"] * 5, *["no"] * 4), non_voters_follow_majority=True
    )
    assert split.covenant is not None and split.covenant.outcome is CovenantOutcome.SPLIT
    assert split.covenant.side is None
    assert split.covenant.non_voters == Measure(3, 3000)
    assert "not applied: split" in split.covenant.explain()
    even = roll(*[1000] * 12)
    tie = tally_binary(
        ART278, even, ballots(even, *["yes"] * 4, *["no"] * 4, "abstain"), non_voters_follow_majority=True
    )
    assert tie.covenant is not None and tie.covenant.outcome is CovenantOutcome.TIE
    assert not tie.passed


def test_covenant_with_everyone_voting() -> None:
    people = roll(100, 100)
    result = tally_binary(ART278, people, ballots(people, "yes", "yes"), non_voters_follow_majority=True)
    assert result.covenant is not None and result.covenant.outcome is CovenantOutcome.NO_NON_VOTERS
    assert result.passed


# --- property tests --------------------------------------------------------------------------

positions = st.sampled_from(["yes", "yes", "yes", "no", "abstain", None])
electorates = st.lists(st.tuples(st.integers(0, 20000), positions), min_size=1, max_size=12)


def _build(people: list[tuple[int, Position | None]]) -> tuple[list[Elector], dict[str, Position]]:
    electors = [Elector(f"o{i}", area) for i, (area, _) in enumerate(people)]
    votes = {e.key: p for e, (_, p) in zip(electors, people, strict=True) if p is not None}
    return electors, votes


@settings(max_examples=200, deadline=None)
@given(electorates, st.randoms(use_true_random=False), st.sampled_from(["art278", "art278_major"]),
       st.booleans())
def test_tally_is_invariant_to_ballot_and_roll_order(
    people: list[tuple[int, Position | None]], rnd: random.Random, name: str, covenant: bool
) -> None:
    electors, votes = _build(people)
    items = list(votes.items())
    rnd.shuffle(items)
    shuffled_roll = list(electors)
    rnd.shuffle(shuffled_roll)
    kind = get_kind(name)
    assert tally_binary(kind, electors, votes, non_voters_follow_majority=covenant) == tally_binary(
        kind, shuffled_roll, dict(items), non_voters_follow_majority=covenant
    )


@settings(max_examples=200, deadline=None)
@given(electorates, st.data(), st.sampled_from(["art278", "art278_major"]), st.booleans())
def test_one_more_yes_never_breaks_a_pass(
    people: list[tuple[int, Position | None]], data: st.DataObject, name: str, covenant: bool
) -> None:
    kind = get_kind(name)
    electors, votes = _build(people)
    before = tally_binary(kind, electors, votes, non_voters_follow_majority=covenant)
    movable = [e.key for e in electors if votes.get(e.key) != "yes"]
    if not movable:
        return
    key = data.draw(st.sampled_from(movable))
    after = tally_binary(kind, electors, {**votes, key: "yes"}, non_voters_follow_majority=covenant)
    if before.passed:
        assert after.passed


# --- option ballots ------------------------------------------------------------------------------

OPTIONS = ("red", "green", "blue")


def test_single_choice_plurality() -> None:
    people = roll(*[0] * 6)
    votes = dict(zip([e.key for e in people], [frozenset({0}), frozenset({1}), frozenset({1}), frozenset()],
                    strict=False))
    result = tally_choice(get_kind("choice"), people, votes, OPTIONS)
    assert [s.heads for s in result.scores] == [1, 2, 0]
    assert result.winners == (1,) and result.passed
    assert result.participated.heads == 4  # a blank ballot takes part
    assert result.order == ((1,), (0,), (2,))


def test_choice_tie_has_no_unique_winner() -> None:
    people = roll(0, 0)
    result = tally_choice(get_kind("choice"), people, {"o0": frozenset({0}), "o1": frozenset({2})}, OPTIONS)
    assert result.winners == (0, 2) and not result.passed
    assert tally_choice(get_kind("choice"), people, {}, OPTIONS).winners == ()


def test_multiple_choice_and_validation() -> None:
    people = roll(0, 0)
    kind = get_kind("choice")
    result = tally_choice(kind, people, {"o0": frozenset({0, 1}), "o1": frozenset({1, 2})}, OPTIONS, 2)
    assert result.winners == (1,)
    with pytest.raises(InvalidInput):
        tally_choice(kind, people, {"o0": frozenset({0, 1})}, OPTIONS)  # too many choices
    with pytest.raises(InvalidInput):
        tally_choice(kind, people, {"o0": frozenset({3})}, OPTIONS)  # out of range
    with pytest.raises(InvalidInput):
        tally_choice(kind, people, {"o0": frozenset({-1})}, OPTIONS)
    with pytest.raises(NotEligible):
        tally_choice(kind, people, {"x": frozenset({0})}, OPTIONS)
    with pytest.raises(InvalidInput):
        tally_choice(kind, people, {}, ("only",))
    with pytest.raises(InvalidInput):
        tally_choice(kind, people, {}, ("a", "a"))
    with pytest.raises(InvalidInput):
        tally_choice(get_kind("approval"), people, {}, OPTIONS)
    with pytest.raises(InvalidInput):
        tally_choice(kind, people, {}, OPTIONS, max_choices=0)


def test_approval_voting() -> None:
    people = roll(0, 0, 0)
    votes = {"o0": frozenset({0, 1, 2}), "o1": frozenset({1, 2}), "o2": frozenset({2})}
    result = tally_approval(get_kind("approval"), people, votes, OPTIONS)
    assert [s.heads for s in result.scores] == [1, 2, 3]
    assert result.winners == (2,) and result.passed


def test_participation_criterion_on_a_choice_kind() -> None:
    quorum = CriterionSpec(
        "participation_heads", Dimension.HEADS, Quantity.PARTICIPATED, Quantity.ELIGIBLE, Op.GT,
        Fraction(1, 2),
    )
    kind = VoteKind(
        "poll", "test", Electorate.HOUSEHOLDS, BallotType.CHOICE, (Dimension.HEADS,), True, (quorum,)
    )
    people = roll(0, 0, 0, 0)
    two = tally_choice(kind, people, {"o0": frozenset({0}), "o1": frozenset({0})}, OPTIONS)
    assert two.winners == (0,) and not two.passed
    cast3 = {"o0": frozenset({0}), "o1": frozenset({0}), "o2": frozenset[int]()}
    three = tally_choice(kind, people, cast3, OPTIONS)
    assert three.passed


WIKIPEDIA = "5 ACBED, 5 ADECB, 8 BEDAC, 3 CABED, 7 CAEBD, 2 CBADE, 7 DCEBA, 8 EBADC"


def test_ranked_wikipedia_example() -> None:
    rankings: list[list[int]] = []
    for part in WIKIPEDIA.split(", "):
        count, letters = part.split()
        rankings += [["ABCDE".index(c) for c in letters]] * int(count)
    people = roll(*[0] * 45)
    votes = {e.key: r for e, r in zip(people, rankings, strict=True)}
    result = tally_ranked(get_kind("ranked"), people, votes, tuple("ABCDE"))
    assert result.winners == (4,) and result.passed
    assert [tier[0] for tier in result.order] == [4, 0, 2, 1, 3]  # E A C B D
    assert result.schulze is not None and result.schulze.d[0][1] == 20
    assert [s.heads for s in result.scores] == [10, 8, 12, 7, 8]  # first preferences


def test_ranked_partial_rankings_and_validation() -> None:
    people = roll(0, 0, 0)
    kind = get_kind("ranked")
    # Unranked options rank below the ranked ones: o0's ballot puts "green" above "red" and "blue".
    result = tally_ranked(kind, people, {"o0": [1], "o1": [], "o2": [0, 1]}, OPTIONS)
    assert result.participated.heads == 3
    assert result.schulze is not None
    assert (result.schulze.d[1][2], result.schulze.d[2][1]) == (2, 0)
    assert result.winners == (0, 1) and not result.passed  # red and green tie 1:1
    assert tally_ranked(kind, people, {"o0": [1], "o2": [1, 0]}, OPTIONS).winners == (1,)
    assert tally_ranked(kind, people, {"o0": []}, OPTIONS).winners == ()
    with pytest.raises(InvalidInput):
        tally_ranked(kind, people, {"o0": [0, 0]}, OPTIONS)
    with pytest.raises(InvalidInput):
        tally_ranked(kind, people, {"o0": [5]}, OPTIONS)
    with pytest.raises(NotEligible):
        tally_ranked(kind, people, {"zz": [0]}, OPTIONS)
