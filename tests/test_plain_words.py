"""Plain words: no internal code in any Chinese text a resident reads (catalog entries and rendered texts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.deliberation.vote_kinds import all_kinds
from bot.handlers.features import wire

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "locales" / "zh_CN" / "LC_MESSAGES" / "messages.po"

# What a resident legitimately sees in Chinese text: the commands they type (/vote), the square metre, the
# invite-code example, a work-order number (R12), the product and platform names, the PDF file format, a blank
# line to sign on, and the operator's command line named to the council.
ALLOWED = re.compile(
    r"/[a-z_]+(?:@[A-Za-z0-9_]+)?"  # a command name
    r"|m²|ABCD-2345|\bR\d+\b|Yishi|Telegram|\bPDF\b|_{3,}"
    r"|`yishi [^`]*`|yishi census import"
)
PLACEHOLDER = re.compile(r"\{[a-z_0-9]+\}")
CODE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _codes_in(text: str) -> list[str]:
    """Latin words left once placeholders and allowed tokens are removed: a raw code (art278_major, light,
    zh_CN, all, open, yes ...) in a Chinese sentence."""
    return CODE.findall(ALLOWED.sub(" ", PLACEHOLDER.sub(" ", text)))


def _catalog() -> list[tuple[str, str]]:
    with ZH.open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    return [(str(m.id), str(m.string)) for m in catalog if m.id]


@pytest.mark.parametrize(("msgid", "msgstr"), _catalog(), ids=lambda v: str(v)[:40])
def test_no_raw_code_in_chinese_messages(msgid: str, msgstr: str) -> None:
    assert _codes_in(msgstr) == [], f"{msgid!r} -> {msgstr!r}"


@pytest.mark.parametrize("code", [
    "art278_major", "residents_meeting", "light", "mediating", "zh_CN", "all", "open", "yes|no|abstain", "5d",
])
def test_the_check_finds_codes(code: str) -> None:
    assert _codes_in(f"范围：{code}") != []


def test_the_check_allows_what_residents_see() -> None:
    assert _codes_in("用 /vote 3 电梯 10天 表决；有表决权 12 人 / 1,234.50 m²；#3；/support@yishi_bot 3") == []


def test_commands_and_kinds_are_known_to_the_check() -> None:
    from bot.handlers.app import Yishi  # noqa: F401 - registers every command

    assert {"vote", "paper", "objection"} <= set(wire().commands.commands)
    assert {k.name for k in all_kinds()} >= {"art278_major", "ranked"}
