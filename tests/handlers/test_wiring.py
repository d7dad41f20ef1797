"""Button data and wiring: every kind packs to the wire format live messages already carry; one table."""

from __future__ import annotations

import io
from importlib import resources

import pytest

from bot.deliberation.vote_kinds import all_kinds, extract_labels
from bot.handlers.callbacks import (
    KINDS,
    BallotChoice,
    ChooseRole,
    Decide,
    Page,
    RankOption,
    ResetRanking,
    SubmitDraft,
    SubmitOptions,
    SubmitRanking,
    Support,
    SupportSimilar,
    ToggleOption,
    encode,
    pack,
    unpack,
)
from bot.handlers.features import wire

# Data as messages sent before the typed kinds carry it: the wire format must not move.
WIRE = [
    ("v1:s:12", Support(12)),
    ("v1:b:3:y", BallotChoice(3, "y")),
    ("v1:o:4:5:6", ToggleOption(4, 5, 6)),
    ("v1:os:4:7", SubmitOptions(4, 7)),
    ("v1:rk:4::2", RankOption(4, "", 2)),
    ("v1:rk:4:21:0", RankOption(4, "21", 0)),
    ("v1:rs:4:210", SubmitRanking(4, "210")),
    ("v1:rr:9", ResetRanking(9)),
    ("v1:rg:5:o", ChooseRole(5, "o")),
    ("v1:ap:6:c", Decide(6, "c")),
    ("v1:pg:0", Page(0)),
    ("v1:dup:8", SupportSimilar(8)),
    ("v1:new:99", SubmitDraft(99)),
]


@pytest.mark.parametrize(("data", "button"), WIRE)
def test_pack_and_unpack_keep_the_wire_format(data: str, button: object) -> None:
    assert unpack(data) == button
    assert pack(button) == data  # type: ignore[arg-type]
    assert encode(data.split(":")[1], *data.split(":")[2:]) == data


@pytest.mark.parametrize("data", ["v1:b:3:x", "v2:s:1", "v1:zz:1", "v1:s:1x", "v1:s:1234567890", "v1:s", "", "s:1"])
def test_forged_or_stale_data_unpacks_to_nothing(data: str) -> None:
    assert unpack(data) is None


def test_a_value_outside_the_pattern_is_never_packed() -> None:
    with pytest.raises(ValueError):
        pack(Page(12345))
    with pytest.raises(ValueError):
        encode("zz", 1)


def test_every_kind_but_the_batched_ballot_has_exactly_one_handler() -> None:
    features = wire()
    assert set(KINDS.values()) - set(features.buttons) == {BallotChoice}
    assert {k.TAG for k, press in features.buttons.items() if press.edit_only} == {"pg", "o", "rk", "rr"}
    assert sorted(features.live) == ["ballot", "card"]
    names = set(features.commands.commands)
    assert {"start", "register", "propose", "support", "vote", "close", "paper", "bind", "digest"} <= names


def test_wiring_twice_gives_two_equal_tables_and_no_duplicates() -> None:
    first, second = wire(), wire()
    assert first.commands.commands.keys() == second.commands.commands.keys()
    assert first.buttons.keys() == second.buttons.keys()


def test_the_catalog_extractor_finds_every_kind_label() -> None:
    raw = resources.files("bot.deliberation").joinpath("vote_kinds.toml").read_bytes()
    found = [message for _line, _func, message, _comments in extract_labels(io.BytesIO(raw), None, None, None)]
    assert found == [kind.label for kind in all_kinds()]
    assert len(found) == 9
