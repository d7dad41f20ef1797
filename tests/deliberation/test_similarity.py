from __future__ import annotations

from bot.deliberation.similarity import DEFAULT_THRESHOLD, normalise, score, similar

ELEVATOR = "3号楼2单元加装电梯"


def test_normalise() -> None:
    assert normalise("三号楼二单元申请装电梯") == "3号楼2单元申请装电梯"
    assert normalise(" 十二号楼，二十三层！１０１室 ") == "12号楼23层101室"
    assert normalise("十号楼") == "10号楼"
    assert normalise("二〇二四年") == "2024年"
    assert normalise("Parking  LOT!") == "parkinglot"


def test_flags_the_same_elevator_request() -> None:
    assert similar(ELEVATOR, [(7, "三号楼二单元申请装电梯")]) == [(7, score(normalise(ELEVATOR),
                                                                          normalise("三号楼二单元申请装电梯")))]
    assert score(normalise(ELEVATOR), normalise("三号楼二单元申请装电梯")) > DEFAULT_THRESHOLD


def test_does_not_flag_unrelated_matters() -> None:
    assert similar(ELEVATOR, [(1, "小区东门停车位划线"), (2, "5号楼楼道灯坏了"), (3, "垃圾分类")]) == []
    assert score(normalise(ELEVATOR), normalise("小区东门停车位划线")) == 0.0


def test_best_first_and_limited() -> None:
    candidates = [
        (1, "小区东门停车位划线"),
        (2, "3号楼2单元加装电梯"),
        (3, "三号楼二单元申请装电梯"),
        (4, "3号楼2单元加装电梯!"),
        (5, "3号楼2单元电梯加装"),
    ]
    found = similar(ELEVATOR, candidates)
    assert [cid for cid, _ in found] == [2, 4, 5]  # exact copies tie at 1.0, lower id first
    assert found[0][1] == 1.0
    assert len(similar(ELEVATOR, candidates, limit=10)) == 4
    assert similar(ELEVATOR, candidates, limit=0) == []


def test_short_texts_compare_characters() -> None:
    assert similar("电梯", [(1, "电梯坏了"), (2, "停车")]) == [(1, score("电梯", "电梯坏了"))]
    assert score("梯", "电梯") > 0
    assert similar("！！", [(1, "！！")]) == []  # nothing left to compare
