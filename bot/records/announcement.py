"""The announcement of a vote's result (表决结果公告), A4, for the notice board and the council's file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reportlab.platypus import Flowable

from bot.i18n import _
from bot.plain import scope_name
from bot.records import pdf
from bot.records.words import CRITERION_NAMES, SOURCE_NAMES, Words

MEASURES = ("eligible", "participated", "yes", "no", "abstain")


@dataclass(frozen=True, slots=True)
class Announcement:
    """What the announcement prints: a proposal and its closed vote as ``bot.services.export`` exports them."""

    community: str
    proposal: dict[str, Any]
    vote: dict[str, Any]
    source: str  # the vote kind's legal basis (vote_kinds.toml ``source``)
    council: list[str]  # the council members' names, one signature line each
    ledger_head: dict[str, Any] | None  # {"seq", "hash", "scheme"} as ``Ledger.head`` gives it
    issued: datetime


def verification_block(words: Words, ledger_head: dict[str, Any] | None) -> list[Flowable]:
    """Hook for verifying the document: today the ledger head (entry number and hash) in print.

    A QR code to a verification page belongs here (it would encode the same head); nothing else changes.
    """
    seq, digest = (ledger_head["seq"], ledger_head["hash"]) if ledger_head else ("-", "-")
    return [pdf.heading(words(_("Ledger head"))),
            pdf.para(words(_("When this document was made, the ledger's last entry was no. {seq}, with this "
                             "fingerprint; compare it with the ledger to check that nothing was altered:", seq=seq))),
            pdf.para(digest, 9)]


def _measure_rows(words: Words, result: dict[str, Any]) -> list[list[str]]:
    names = {"eligible": _("Eligible"), "participated": _("Took part"), "yes": _("Yes"), "no": _("No"),
             "abstain": _("Abstain")}
    rows = [[words(_("Count")), words(_("Heads")), words(_("Area (m²)"))]]
    for name in MEASURES:
        if name in result and isinstance(result[name], dict):
            heads, area = result[name]["heads"], result[name]["area_m2"]
            rows.append([words(names[name]), str(heads), "-" if area is None else str(area)])
    for option, score in zip(result.get("options", []), result.get("scores", []), strict=False):
        rows.append([str(option), str(score["heads"]), "-" if score["area_m2"] is None else str(score["area_m2"])])
    return rows


def _criteria_rows(words: Words, result: dict[str, Any]) -> list[list[str]]:
    rows = [[words(_("Criterion")), words(_("Required")), words(_("Actual")), words(_("Outcome"))]]
    for c in result.get("criteria", []):
        op = str(c.get("op", "")).replace(">=", "≥").replace("<=", "≤")
        rows.append([words.named(CRITERION_NAMES, c["name"]), f"{op} {c['required']}", str(c["actual"]),
                     words(_("met")) if c["met"] else words(_("not met"))])
    return rows


def decision(words: Words, doc: Announcement) -> str:
    title = doc.proposal["title"]
    passed = doc.vote["result"].get("passed")
    if passed:
        return words(_("The matter \"{title}\" is adopted: every criterion of the vote was met.", title=title))
    return words(_("The matter \"{title}\" is not adopted: not every criterion of the vote was met.", title=title))


def build(doc: Announcement, words: Words) -> bytes:
    proposal, vote, result = doc.proposal, doc.vote, doc.vote["result"]
    facts = [
        [words(_("Community")), doc.community],
        [words(_("Matter")), f"#{proposal['id']} {proposal['title']}"],
        [words(_("Scope")), words(scope_name(vote["scope"]))],
        [words(_("Legal basis")), words.named(SOURCE_NAMES, doc.source)],
        [words(_("Vote period")), f"{words.when(vote['opened_at'])} - {words.when(vote['closed_at'])}"],
        [words(_("Electors on the roll")), str(vote["roll_size"])],
    ]
    story: list[Flowable] = [
        pdf.title(words(_("Announcement of a vote result"))),
        pdf.table(facts, [40, 130]),
        pdf.gap(),
        pdf.heading(words(_("Votes counted"))),
        pdf.table(_measure_rows(words, result), [60, 50, 60]),
        pdf.gap(),
        pdf.heading(words(_("Criteria"))),
        pdf.table(_criteria_rows(words, result), [60, 40, 40, 30]),
        pdf.gap(),
        pdf.heading(words(_("Decision"))),
        pdf.para(decision(words, doc), 11.5),
        pdf.gap(),
        *verification_block(words, doc.ledger_head),
        pdf.gap(8),
        pdf.heading(words(_("Residents' council"))),
    ]
    for name in doc.council or [""]:
        story.append(pdf.para(words(_("{name}   signature: ____________________", name=name))))
    story.append(pdf.gap(6))
    story.append(pdf.para(words(_("Date: {date}", date=words.when(doc.issued)[:10]))))
    return pdf.render(story, subject=words(_("Announcement of a vote result")))
