"""Every user-facing string is translated in both catalogs, with the same placeholders."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, Text, Translator, compile_catalogs, normalize_locale

ROOT = Path(__file__).resolve().parent.parent


def _source_msgids() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=[("bot/**.py", "python")], keywords={"_": None}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_msgid_is_translated(locale: str) -> None:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    translations = {m.id: m.string for m in catalog if m.id}
    source = _source_msgids()
    assert len(source) > 100
    missing = sorted(source - translations.keys())
    assert missing == [], f"not in the {locale} catalog (run make catalogs): {missing[:10]}"
    empty = sorted(msgid for msgid in source if not translations[msgid])
    assert empty == [], f"untranslated in {locale}: {empty[:10]}"
    broken = sorted(msgid for msgid in source if _fields(msgid) != _fields(str(translations[msgid])))
    assert broken == [], f"placeholders differ in {locale}: {broken[:10]}"


def test_chinese_is_really_chinese() -> None:
    translator = Translator("zh_CN")
    assert translator.render(Text("Yes"), "zh_CN") == "赞成"
    assert translator.render(Text("Yes"), "en") == "Yes"
    assert translator.render(Text("#{id} {title}", {"id": 3, "title": "{x}"}), "zh_CN").endswith("{x}")


def test_catalogs_compile_without_a_manual_step(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(LOCALES_DIR, tmp_path / "locales")
    for mo in (tmp_path / "locales").glob("*/LC_MESSAGES/*.mo"):
        mo.unlink()
    written = compile_catalogs(tmp_path / "locales")
    assert {p.parent.parent.name for p in written} == {"zh_CN", "en"}
    assert compile_catalogs(tmp_path / "locales") == []  # up to date: nothing rewritten


@pytest.mark.parametrize(("code", "expected"), [("zh-hans", "zh_CN"), ("zh", "zh_CN"), ("en-US", "en"),
                                                ("fr", "zh_CN"), (None, "zh_CN")])
def test_language_code_mapping(code: str | None, expected: str) -> None:
    assert normalize_locale(code, "zh_CN") == expected
