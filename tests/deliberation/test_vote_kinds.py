from __future__ import annotations

from fractions import Fraction

import pytest

from bot.deliberation.errors import InvalidInput
from bot.deliberation.vote_kinds import (
    BallotType,
    Dimension,
    Electorate,
    KindConfigError,
    Op,
    Quantity,
    all_kinds,
    get_kind,
    kind_names,
    load_kinds,
)


def _rules(name: str) -> list[tuple[str, str, str, str, str, Fraction]]:
    return [
        (c.name, c.measure, c.numerator, c.denominator, c.op, c.ratio) for c in get_kind(name).criteria
    ]


def test_presets_are_all_there() -> None:
    names = [k.name for k in all_kinds()]
    assert names == [
        "art278", "art278_major", "residents_meeting", "council", "simple", "objection",
        "choice", "ranked", "approval",
    ]
    assert set(names) | {"elevator"} == set(kind_names())


def test_art278() -> None:
    kind = get_kind("art278")
    assert kind.electorate is Electorate.OWNERS
    assert kind.ballot is BallotType.YES_NO
    assert kind.measures == (Dimension.HEADS, Dimension.AREA)
    assert kind.covenant
    assert _rules("art278") == [
        ("participation_area", "area", "participated", "eligible", ">=", Fraction(2, 3)),
        ("participation_heads", "heads", "participated", "eligible", ">=", Fraction(2, 3)),
        ("approval_area", "area", "yes", "participated", ">", Fraction(1, 2)),
        ("approval_heads", "heads", "yes", "participated", ">", Fraction(1, 2)),
    ]


def test_art278_major_and_elevator_alias() -> None:
    assert get_kind("elevator") is get_kind("art278_major")
    assert _rules("elevator")[2:] == [
        ("approval_area", "area", "yes", "participated", ">=", Fraction(3, 4)),
        ("approval_heads", "heads", "yes", "participated", ">=", Fraction(3, 4)),
    ]
    assert _rules("elevator")[:2] == _rules("art278")[:2]


def test_other_presets() -> None:
    assert _rules("residents_meeting") == [
        ("participation_heads", "heads", "participated", "eligible", ">", Fraction(1, 2)),
        ("approval_heads", "heads", "yes", "participated", ">", Fraction(1, 2)),
    ]
    assert get_kind("residents_meeting").electorate is Electorate.HOUSEHOLDS
    assert _rules("council") == [
        ("participation_heads", "heads", "participated", "eligible", ">", Fraction(1, 2)),
        ("approval_heads", "heads", "yes", "eligible", ">", Fraction(1, 2)),
    ]
    assert get_kind("council").measures == (Dimension.HEADS,)
    assert _rules("simple") == [("approval_heads", "heads", "yes", "decisive", ">", Fraction(1, 2))]
    assert _rules("objection") == [
        ("objection_area", "area", "no", "eligible", "<=", Fraction(1, 3)),
        ("objection_heads", "heads", "no", "eligible", "<=", Fraction(1, 3)),
    ]
    for name, ballot in (("choice", "choice"), ("ranked", "ranked"), ("approval", "approval")):
        kind = get_kind(name)
        assert kind.ballot == ballot
        assert kind.criteria == ()
        assert kind.electorate is Electorate.HOUSEHOLDS


def test_unknown_kind() -> None:
    with pytest.raises(InvalidInput) as info:
        get_kind("nope")
    assert info.value.params["field"] == "kind"


def test_enums_compare_as_strings() -> None:
    assert str(Op.GE) == ">=" and Quantity("decisive") is Quantity.DECISIVE
    assert Op.GE.holds(3, 3) and not Op.GT.holds(3, 3) and Op.LE.holds(3, 3)


VALID = """
[[kinds]]
name = "k"
source = "test"
electorate = "owners"
ballot = "yes_no"
measures = ["heads", "area"]
secret = false

[[kinds.criteria]]
name = "c"
measure = "area"
numerator = "yes"
denominator = "participated"
op = ">"
ratio = "1/2"

[aliases]
a = "k"
"""


def test_valid_document_loads() -> None:
    kinds, aliases = load_kinds(VALID)
    assert kinds["k"].criteria[0].ratio == Fraction(1, 2)
    assert aliases == {"a": "k"}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('electorate = "owners"', 'electorate = "tenants"'),
        ('op = ">"', 'op = "=>"'),
        ('op = ">"', 'op = "<"'),
        ('measure = "area"', 'measure = "floors"'),
        ('measures = ["heads", "area"]', 'measures = ["heads", "volume"]'),
        ('measures = ["heads", "area"]', 'measures = ["heads"]'),  # criterion uses unmeasured area
        ('ballot = "yes_no"', 'ballot = "dice"'),
        ('ratio = "1/2"', 'ratio = "0.5"'),
        ('ratio = "1/2"', 'ratio = "3/2"'),
        ('ratio = "1/2"', 'ratio = "1/0"'),
        ('numerator = "yes"', 'numerator = "eligible"'),
        ('denominator = "participated"', 'denominator = "yes"'),
        ('a = "k"', 'a = "missing"'),
        ('a = "k"', 'k = "k"'),
        ('secret = false', 'secret = "no"'),
        ('secret = false', 'secret = false\nratio = "1/2"'),  # unknown key on a kind
        ('source = "test"', 'source = ""'),
        ('electorate = "owners"', 'electorate = "council"'),  # council with area
        ('numerator = "yes"', 'numerator = "participated"'),  # no approval criterion
        ('secret = false', 'secret = false\ncovenant = "yes"'),
        ('name = "k"', 'name = "K k"'),
        ("[aliases]", "[aliasez]"),
    ],
)
def test_invalid_documents_are_refused(old: str, new: str) -> None:
    assert old in VALID
    with pytest.raises(KindConfigError):
        load_kinds(VALID.replace(old, new, 1))


def test_covenant_only_for_owners() -> None:
    text = VALID.replace("secret = false", "secret = false\ncovenant = true", 1)
    assert load_kinds(text)[0]["k"].covenant
    with pytest.raises(KindConfigError):
        load_kinds(text.replace('electorate = "owners"', 'electorate = "households"'))


def test_option_ballots_allow_only_participation_criteria() -> None:
    text = VALID.replace('ballot = "yes_no"', 'ballot = "choice"').replace(
        'measures = ["heads", "area"]', 'measures = ["heads"]'
    ).replace('measure = "area"', 'measure = "heads"')
    with pytest.raises(KindConfigError):
        load_kinds(text)
    ok = text.replace('numerator = "yes"', 'numerator = "participated"').replace(
        'denominator = "participated"', 'denominator = "eligible"'
    )
    assert load_kinds(ok)[0]["k"].criteria[0].is_participation


def test_duplicate_kind_and_bad_toml() -> None:
    kind_block = VALID.split("[aliases]")[0]
    with pytest.raises(KindConfigError):
        load_kinds(kind_block + kind_block)
    with pytest.raises(KindConfigError):
        load_kinds("[[kinds]\n")
    with pytest.raises(KindConfigError):
        load_kinds("")
