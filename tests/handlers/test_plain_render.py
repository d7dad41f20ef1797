"""Plain words and numbers a resident can check by hand, in rendered texts (not only catalog entries)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.deliberation.tally import Elector, Measure, evaluate, tally_binary, tally_ranked
from bot.deliberation.vote_kinds import Quantity, get_kind
from bot.handlers import render
from bot.i18n import Text, Translator
from bot.services.voting import result_document
from bot.storage.models import Proposal, Vote
from tests.test_plain_words import _codes_in

TZ = ZoneInfo("Asia/Shanghai")
WHEN = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
T = Translator("zh_CN")


def zh(text: Text) -> str:
    return T.render(text, "zh_CN")


def en(text: Text) -> str:
    return T.render(text, "en")


def _proposal(scope: str = "3-2") -> Proposal:
    return Proposal(id=3, community_id=1, author_member_id=1, title="加装电梯", scope=scope, category="elevator",
                    state="voting", support_threshold=5, households_in_scope=12, collecting_until=WHEN)


def _vote(kind: str, *, secret: bool = False, status: str = "closed", options: list[str] | None = None) -> Vote:
    return Vote(id=1, proposal_id=3, kind=kind, scope="3-2", secret=secret, status=status, closes_at=WHEN,
                options=options)


def _criterion(kind: str, name: str, numerator: int, denominator: int) -> dict[str, Any]:
    """One criterion of ``kind`` evaluated on these exact parts, in the result document's form."""
    spec = next(c for c in get_kind(kind).criteria if c.name == name)
    measure = (lambda n: Measure(area=n)) if spec.measure.value == "area" else (lambda n: Measure(heads=n))
    c = evaluate(spec, {spec.numerator: measure(numerator), spec.denominator: measure(denominator),
                        **{q: Measure() for q in Quantity if q not in (spec.numerator, spec.denominator)}})
    return {"name": c.name, "measure": str(c.measure), "op": str(c.op), "required": c.required, "actual": c.actual,
            "met": c.met, "numerator": c.numerator, "denominator": c.denominator,
            "ratio": f"{c.ratio.numerator}/{c.ratio.denominator}"}


# Art. 278 items 6-8: at least 3/4 of the participating area approve (the bound included).
@pytest.mark.parametrize(("yes", "line"), [
    (299_999, "✗ approving, by area: 2,999.99 / 4,000.00 m² = 74.9998% (required ≥ 75.0000%)"),
    (300_000, "✓ approving, by area: 3,000.00 / 4,000.00 m² = 75.00%, exactly the bound (required ≥ 75.00%)"),
    (300_001, "✓ approving, by area: 3,000.01 / 4,000.00 m² = 75.0003% (required ≥ 75.0000%)"),
])
def test_three_quarters_of_area_at_and_beside_the_bound(yes: int, line: str) -> None:
    assert en(render.criterion_line(_criterion("art278_major", "approval_area", yes, 400_000))) == line


# Ordinary matters: MORE than half of the participating heads (the bound excluded).
@pytest.mark.parametrize(("yes", "total", "line"), [
    (5, 12, "✗ 赞成（按人数）：5 / 12 人 = 41.67%（要求 > 50.00%）"),
    (6, 12, "✗ 赞成（按人数）：6 / 12 人 = 50.00%，正好等于界限（要求 > 50.00%）"),
    (7, 12, "✓ 赞成（按人数）：7 / 12 人 = 58.33%（要求 > 50.00%）"),
    (100_000, 200_001, "✗ 赞成（按人数）：100,000 / 200,001 人 = 49.9998%（要求 > 50.0000%）"),
    (100_001, 200_001, "✓ 赞成（按人数）：100,001 / 200,001 人 = 50.0002%（要求 > 50.0000%）"),
])
def test_more_than_half_of_heads_at_and_beside_the_bound(yes: int, total: int, line: str) -> None:
    assert zh(render.criterion_line(_criterion("art278", "approval_heads", yes, total))) == line


@pytest.mark.parametrize(("area", "line"), [
    (472_217, "✗ taking part, by area: 4,722.17 / 7,083.27 m² = 66.6665% (required ≥ 66.6667%)"),
    (472_218, "✓ taking part, by area: 4,722.18 / 7,083.27 m² = 66.67%, exactly the bound (required ≥ 66.67%)"),
    (472_219, "✓ taking part, by area: 4,722.19 / 7,083.27 m² = 66.6668% (required ≥ 66.6667%)"),
])
def test_two_thirds_shows_enough_digits(area: int, line: str) -> None:
    # 2/3 of 7,083.27 m² is exactly 4,722.18 m²: a hundredth either side would both read "66.67%".
    assert en(render.criterion_line(_criterion("art278", "participation_area", area, 708_327))) == line


def test_bound_figures_never_look_equal_unless_equal() -> None:
    for num in range(1, 400):
        for bound in (Fraction(1, 2), Fraction(2, 3), Fraction(3, 4), Fraction(1, 3)):
            actual = Fraction(num, 401)
            shown, required = render.bound_figures(actual, bound)
            assert (shown == required) == (actual == bound), (num, bound)


def _art278_major_result(yes_keys: int) -> dict[str, Any]:
    roll = [Elector(f"owner:{i}", 10_000) for i in range(12)]
    ballots = {f"owner:{i}": ("yes" if i < yes_keys else "no") for i in range(12)}
    return result_document(tally_binary(get_kind("art278_major"), roll, ballots), 12)


def test_area_result_in_plain_chinese() -> None:
    text = zh(render.result_text(_proposal(), _vote("art278_major"), _art278_major_result(9)))
    assert "art278" not in text and _codes_in(text.replace("✓", "").replace("✗", "")) == []
    assert "9 / 12 人 = 75.00%，正好等于界限（要求 ≥ 75.00%）" in text
    assert "900.00 / 1,200.00 m² = 75.00%，正好等于界限" in text


def test_heads_only_result_shows_no_area() -> None:
    roll = [Elector(f"unit:{i}") for i in range(10)]
    ballots = {f"unit:{i}": ("yes" if i < 6 else "no") for i in range(10)}
    result = result_document(tally_binary(get_kind("residents_meeting"), roll, ballots), 10)
    text = zh(render.result_text(_proposal(), _vote("residents_meeting"), result))
    assert "m²" not in text and "赞成 6 人；反对 4 人；弃权 0 人" in text and "有表决权 10 人；实际参与 10 人" in text
    assert _codes_in(text) == []


def test_ranked_result_says_how_the_winner_was_found_and_shows_the_table() -> None:
    options = ["甲方案", "乙方案", "丙方案"]
    roll = [Elector(f"unit:{i}") for i in range(5)]
    ballots = {"unit:0": (0, 1, 2), "unit:1": (0, 2, 1), "unit:2": (1, 0, 2), "unit:3": (2, 0, 1),
               "unit:4": (1, 2, 0)}
    result = result_document(tally_ranked(get_kind("ranked"), roll, ballots, options), 5)
    vote = _vote("ranked", options=options)
    text = zh(render.result_text(_proposal(), vote, result))
    assert "按舒尔茨方法" in text and "甲方案 胜过其他每个选项" in text and "结果 3 详细" in text
    assert "甲方案：2 人排在第一位" in text
    table = zh(render.result_text(_proposal(), vote, result, detail=True))
    assert "甲方案 优先于 乙方案：3 票；乙方案 优先于 甲方案：2 票" in table
    assert "甲方案 优先于 丙方案：3 票；丙方案 优先于 甲方案：2 票" in table
    assert _codes_in(table) == []


def test_ranked_tie_says_the_council_decides() -> None:
    options = ["甲", "乙"]
    roll = [Elector(f"unit:{i}") for i in range(2)]
    result = result_document(tally_ranked(get_kind("ranked"), roll, {"unit:0": (0, 1), "unit:1": (1, 0)}, options),
                             2)
    text = zh(render.result_text(_proposal(), _vote("ranked", options=options), result))
    assert "甲, 乙 并列" in text and "由议事会决定" in text


def test_open_ballot_is_not_called_private() -> None:
    standing = {"eligible": {"heads": 12, "area_centi": 120_000}, "participated": {"heads": 0, "area_centi": 0},
                "measures_area": True}
    open_post = zh(render.ballot_post(_proposal(), _vote("art278_major", status="open"), standing, TZ))
    secret_post = zh(render.ballot_post(_proposal(), _vote("simple", secret=True, status="open"), standing, TZ))
    assert "不会公开" not in open_post and "记名表决" in open_post and "3 号楼 2 单元" in open_post
    assert "不会公开" in secret_post
    assert _codes_in(open_post) == [] and _codes_in(secret_post) == []


@pytest.mark.parametrize(("scope", "plain"), [("all", "全体"), ("3", "3 号楼"), ("3-2", "3 号楼 2 单元")])
def test_scopes_in_plain_words(scope: str, plain: str) -> None:
    card = zh(render.proposal_card(_proposal(scope), 2, TZ, now=WHEN))
    assert f"范围：{plain}" in card and _codes_in(card) == []


def test_history_and_objections_in_plain_words() -> None:
    from bot.handlers.agenda import _plain_codes
    from bot.handlers.votes import REASON_NAMES, STATUS_NAMES

    kind = _plain_codes("vote_opened", {"kind": "art278_major"})["kind"]
    assert "art278" not in zh(kind)
    assert zh(_plain_codes("objection_recorded", {"reason": "light"})["reason"]) == "采光"
    assert zh(_plain_codes("objection_updated", {"to": "mediating"})["to"]) == "调解中"
    assert _plain_codes("proposal_declined", {"reason": "light"}) == {}  # free text stays as written
    for names in (REASON_NAMES, STATUS_NAMES):
        assert all(_codes_in(zh(name)) == [] for name in names.values())
    assert zh(render.LANGUAGE_NAMES["zh_CN"]) == "中文"


def test_covenant_sources_named_in_chinese() -> None:
    roll = [Elector(f"owner:{i}", 10_000) for i in range(12)]
    ballots = {f"owner:{i}": "yes" for i in range(7)} | {"owner:7": "no"}
    result = result_document(tally_binary(get_kind("art278"), roll, ballots, non_voters_follow_majority=True), 12)
    text = zh(render.result_text(_proposal(), _vote("art278"), result))
    assert "《浙江省物业管理条例》（2009 年）第 10 条" in text and "Zhejiang" not in text
    assert _codes_in(text) == []
