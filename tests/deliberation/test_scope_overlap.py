from __future__ import annotations

import pytest

from bot.deliberation.scope import Scope


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("all", "3-2", True), ("3", "3-2", True), ("3-2", "3-2", True), ("3-2", "3", True), ("3-2", "all", True),
     ("3-1", "3-2", False), ("4", "3-2", False), ("3", "4", False), ("3-2", "4", False), ("all", "all", True)],
)
def test_scopes_overlap_when_one_contains_the_other(a: str, b: str, expected: bool) -> None:
    assert Scope.parse(a).overlaps(Scope.parse(b)) is expected
    assert Scope.parse(b).overlaps(Scope.parse(a)) is expected
