"""Translations: gettext catalogs in locales/, compiled with Babel when they are newer than the .mo.

Handlers build ``Text`` values (a msgid and its parameters) and the text is rendered in each
recipient's language only when it is sent, so one post can go out in several languages.
"""

from __future__ import annotations

import gettext
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LOCALES

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Text:
    """A user-facing message not yet rendered in any language."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)


def _(msgid: str, **params: Any) -> Text:
    """Mark a message for extraction (pybabel's default keyword) and carry its parameters."""
    return Text(msgid, params)


def compile_catalogs(locales_dir: Path = LOCALES_DIR) -> list[Path]:
    """Compile every .po newer than its .mo; returns what was written. Runs at start, no manual step."""
    written = []
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)  # atomic: a second process never reads half a file
        written.append(mo_path)
    return written


def normalize_locale(code: str | None, default: str) -> str:
    """Telegram's language_code ("zh-hans", "en-US"...) -> a supported locale, else ``default``."""
    if not code:
        return default
    lowered = code.replace("-", "_").lower()
    for locale in SUPPORTED_LOCALES:
        if lowered == locale.lower() or lowered.split("_")[0] == locale.split("_")[0].lower():
            return locale
    return default


class _Chosen(Protocol):
    """A member as stored: the locale they chose (/lang) and the language their client last reported."""

    @property
    def locale(self) -> str | None: ...

    @property
    def language_code(self) -> str | None: ...


class _Reported(Protocol):
    """Whoever is writing now, as the platform reports them (a chat port Sender)."""

    @property
    def language_code(self) -> str | None: ...


def member_locale(member: _Chosen | None, sender: _Reported, default: str) -> str:
    """The locale to talk to someone in: the one they chose, else their client's language, else ``default``."""
    if member is not None and member.locale:
        return member.locale
    code = sender.language_code or (member.language_code if member is not None else None)
    return normalize_locale(code, default)


class Translator:
    def __init__(self, default_locale: str = "zh_CN", locales_dir: Path = LOCALES_DIR) -> None:
        compile_catalogs(locales_dir)
        self.default_locale = default_locale
        self._catalogs = {
            locale: gettext.translation(DOMAIN, localedir=str(locales_dir), languages=[locale])
            for locale in SUPPORTED_LOCALES
        }

    def template(self, msgid: str, locale: str | None = None) -> str:
        """The translation with its placeholders left in, for a page that fills them itself."""
        catalog = self._catalogs.get(locale or self.default_locale, self._catalogs[self.default_locale])
        return catalog.gettext(msgid)

    def render(self, text: Text | str, locale: str | None = None) -> str:
        if isinstance(text, str):
            return text
        catalog = self._catalogs.get(locale or self.default_locale, self._catalogs[self.default_locale])
        template = catalog.gettext(text.msgid)
        params = {key: self.render(value, locale) if isinstance(value, Text) else value
                  for key, value in text.params.items()}
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            log.error("bad placeholders in %r for %s", text.msgid, locale)
            return template
