"""Plain names for codes a resident would otherwise read: scopes (never "all" or "3-2" in a sentence)."""

from __future__ import annotations

from bot.i18n import Text, _


def scope_name(scope: str) -> Text:
    """A scope as a resident says it: the whole community, building 3, building 3 unit 2."""
    building, _sep, unit = scope.partition("-")
    if scope in ("all", "*", ""):
        return _("the whole community")
    if not unit:
        return _("building {building}", building=building)
    return _("building {building}, unit {unit}", building=building, unit=unit)
