"""Names the documents print for codes (criteria, legal sources, ballot sources), as gettext msgids."""

from __future__ import annotations

from datetime import datetime, tzinfo

from bot.i18n import Text, Translator, _

CRITERION_NAMES = {
    "participation_area": _("taking part, by area"),
    "participation_heads": _("taking part, by heads"),
    "approval_area": _("approving, by area"),
    "approval_heads": _("approving, by heads"),
    "objection_area": _("objecting, by area"),
    "objection_heads": _("objecting, by heads"),
}
# Each vote kind's ``source`` in vote_kinds.toml, as a resident would look the law up.
SOURCE_NAMES = {
    "Civil Code Art. 278": _("Civil Code of the PRC, Article 278"),
    "Civil Code Art. 278 (6)-(8)": _("Civil Code of the PRC, Article 278, items 6 to 8"),
    "Organic Law of Urban Residents' Committees Art. 9-11": _(
        "Organic Law of Urban Residents' Committees, Articles 9 to 11"),
    "Beijing Property Management Regulations Art. 45": _("Beijing Property Management Regulations, Article 45"),
    "Henan Property Management Regulations Art. 66": _("Henan Property Management Regulations, Article 66"),
    "majority of ballots cast": _("majority of the ballots cast"),
    "plurality": _("the option with the most votes"),
    "Schulze method": _("ranked ballots counted by the Schulze method"),
    "approval voting": _("approval voting"),
}
CHOICE_NAMES = {"yes": _("Yes"), "no": _("No"), "abstain": _("Abstain")}
# Ballot.source: "self" is a resident pressing a button in the chat.
BALLOT_SOURCES = {"self": _("chat"), "web": _("web"), "paper": _("paper"), "proxy": _("proxy")}


class Words:
    """One document's language: renders msgids and formats times in the community's zone."""

    def __init__(self, translator: Translator, locale: str, tz: tzinfo) -> None:
        self.translator = translator
        self.locale = locale
        self.tz = tz

    def __call__(self, text: Text | str) -> str:
        return self.translator.render(text, self.locale)

    def when(self, moment: str | datetime | None) -> str:
        if moment is None or moment == "":
            return "-"
        value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def named(self, table: dict[str, Text], code: str) -> str:
        return self(table[code]) if code in table else code
