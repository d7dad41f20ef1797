"""Every Chinese keyword and argument word (bot/handlers/aliases.toml, vote_kinds.toml), one case each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.deliberation.scope import Scope
from bot.deliberation.vote_kinds import all_kinds, kind_of_word
from bot.handlers import aliases
from bot.handlers.app import Yishi  # noqa: F401 - registers every command
from bot.handlers.commands import parse_command
from bot.handlers.digests import words as digest_words
from bot.handlers.features import wire

ROOT = Path(__file__).resolve().parents[2]
W = aliases.words()
KEYWORDS = [(word, command) for command, words in W.by_command.items() for word in words]
# Arguments in each command's shape, for the keyword without the slash.
SAMPLE_ARGS = {
    "start": "", "register": "3-2-501", "me": "", "lang": "中文", "help": "", "pending": "", "propose": "修路灯",
    "support": "3", "proposals": "", "show": "#3", "accept": "3", "decline": "3 重复了", "merge": "4 3",
    "withdraw": "3", "digest": "我 每天 20:00", "progress": "3 完成", "records": "3", "meeting": "12-05 19:30",
    "nudges": "关", "bind": "3号楼2单元", "vote": "3 电梯 10天", "close": "3", "results": "3 详细",
    "paper": "3 3-2-501 赞成 委托书", "objection": "状态 2 调解中",
    "report": "停车 3-2 消防通道被占", "myreports": "", "order": "R12", "queue": "", "take": "R12",
    "reply": "R12 明天上午来修", "resolve": "R12 已更换灯泡", "transfer": "R12 物业 不归我们管",
    "whistle": "R12 城管 违建", "reopen": "R12 还是漏水", "suggestions": "", "follow": "3", "unfollow": "3",
    "evaluate": "3 满意 很好", "evaluation": "3", "web": "", "photo": "R12",
}


def test_every_command_has_a_keyword_and_every_keyword_a_command() -> None:
    registry = wire().commands
    assert set(W.by_command) == set(registry.commands)
    assert all(W.by_command[name] for name in registry.commands)


def test_keywords_are_not_latin() -> None:
    # Latin aliases would shadow ordinary English chat without a slash; the English names need the slash.
    for word, _command in KEYWORDS:
        assert not word.isascii(), word


@pytest.mark.parametrize(("word", "command"), KEYWORDS)
def test_keyword_with_and_without_slash(word: str, command: str) -> None:
    args = SAMPLE_ARGS[command]
    for text in (f"/{word} {args}", f"{word} {args}", f"/{word}@yishi_bot {args}"):
        parsed = parse_command(text.strip())
        assert parsed is not None and (parsed.name, parsed.args) == (command, args), text
        assert parsed.bare == (not text.startswith("/")), text
    # Glued to the next word, or inside a sentence: chat, not a command.
    assert parse_command(f"{word}吗") is None
    assert parse_command(f"我觉得 {word} {args}") is None
    # "@bot" only after the slash.
    assert parse_command(f"{word}@yishi_bot {args}".strip()) is None


@pytest.mark.parametrize(("text"), [
    "附议的人多吗", "附议 一下吧", "附议", "附议，我也同意", "结果 出来了吗", "表决什么时候开始", "撤回 刚才那条",
    "帮助 我一下", "查看 一下", "合并 3 和 4", "语言 不通", "提醒 我明天", "会议 几点开始", "绑定 手机",
    "受理 了吗", "结束表决 吧", "登记 一下", "摘要 是什么", "进展 如何", "异议 很多",
])
def test_group_chatter_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize(("word", "code"), sorted(W.tables["positions"].items()))
def test_positions(word: str, code: str) -> None:
    assert aliases.argument("positions", word, ("yes", "no", "abstain")) == code


@pytest.mark.parametrize(("word", "code"), sorted(W.tables["reasons"].items()))
def test_objection_reasons(word: str, code: str) -> None:
    assert aliases.argument("reasons", word, ()) == code


@pytest.mark.parametrize(("word", "code"), sorted(W.tables["statuses"].items()))
def test_objection_statuses(word: str, code: str) -> None:
    assert aliases.argument("statuses", word, ()) == code


@pytest.mark.parametrize(("table", "word", "code"), [
    (table, word, code) for table in ("secrecy", "languages", "switches", "keywords")
    for word, code in sorted(W.tables[table].items())
])
def test_flags_and_keywords(table: str, word: str, code: str) -> None:
    assert aliases.code(table, word) == code


@pytest.mark.parametrize(("words", "joined"), [
    (["10天"], ["10d"]), (["10", "天"], ["10d"]), (["10d"], ["10d"]), (["10D"], ["10d"]), (["7日"], ["7d"]),
    (["10", "天", "公开"], ["10d", "公开"]), (["公开", "5", "天"], ["公开", "5d"]), (["10"], ["10"]),
])
def test_days(words: list[str], joined: list[str]) -> None:
    assert aliases.join_days(words) == joined


@pytest.mark.parametrize(("text", "scope"), [
    ("全部", "all"), ("全体", "all"), ("全小区", "all"), ("all", "all"), ("3号楼", "3"), ("3栋", "3"),
    ("3幢", "3"), ("3", "3"), ("3号楼2单元", "3-2"), ("3栋2单元", "3-2"), ("3-2", "3-2"),
])
def test_scopes(text: str, scope: str) -> None:
    assert str(Scope.parse(aliases.scope_text(text))) == scope


@pytest.mark.parametrize(("kind", "word"), [(k.name, w) for k in all_kinds() for w in k.words])
def test_vote_kind_words(kind: str, word: str) -> None:
    assert kind_of_word(word) == kind


def test_every_kind_has_a_plain_name() -> None:
    assert all(kind.words for kind in all_kinds())
    assert kind_of_word("电梯") == "art278_major" and kind_of_word("elevator") == "art278_major"
    assert kind_of_word("飞机") is None


@pytest.mark.parametrize("word", ["飞机", "风水", "吵架中", "随便"])
def test_unknown_chinese_word_is_a_usage_error(word: str) -> None:
    from bot.handlers.commands import UsageError

    for table in ("positions", "reasons", "statuses"):
        with pytest.raises(UsageError):
            aliases.argument(table, word, ())


@pytest.mark.parametrize(("word", "day"), [
    (w, d) for w, d in digest_words()["weekdays"].items() if not w.isascii()
])
def test_weekdays(word: str, day: int) -> None:
    from bot.handlers.digests import parse_weekday

    assert parse_weekday(word) == day


def test_no_chinese_in_handler_code() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for path in (ROOT / "bot" / "handlers").glob("*.py"):
        code = "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
        assert not han.search(code), path
