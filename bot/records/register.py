"""The register of a vote (表决票登记表): one row per home on the frozen roll, and totals, as .xlsx.

Text cells go through ``csv_cell``: one beginning with ``=``, ``+``, ``-`` or ``@`` (a resident's name,
an authority) is stored as text, never as a formula. Areas are written as exact decimal strings'
numbers (Decimal -> number cell with two decimals), heads as integers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook

from bot.deliberation.text import csv_cell
from bot.i18n import _
from bot.records.words import BALLOT_SOURCES, CHOICE_NAMES, Words


@dataclass(frozen=True, slots=True)
class Row:
    building: str
    unit: str
    room: str
    area_m2: Decimal
    owner: str  # the census owner id, or "developer"
    homes_of_owner: int  # >1: a multi-home owner (one head, every home's area)
    choice: str | None  # "yes" / "no" / "abstain" / option text; None = no ballot; "secret"
    source: str | None
    authority: str | None
    cast_at: str | None


def _text(value: Any) -> Any:
    """A cell's value: numbers stay numbers, text is formula-safe."""
    if isinstance(value, int | Decimal):
        return value
    return csv_cell(value)


def build(rows: list[Row], totals: list[tuple[str, int, Decimal]], words: Words, sheet_title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "register"
    sheet.append([_text(sheet_title)])
    sheet.append([_text(words(x)) for x in (
        _("Building"), _("Unit"), _("Room"), _("Area (m²)"), _("Owner"), _("Homes of this owner"), _("Choice"),
        _("Source"), _("Authority"), _("Time"))])
    for row in rows:
        choice = "" if row.choice is None else (
            words(_("secret")) if row.choice == "secret" else words.named(CHOICE_NAMES, row.choice))
        owner = row.owner if row.homes_of_owner <= 1 else words(
            _("{owner} (owns {count} homes)", owner=row.owner, count=row.homes_of_owner))
        sheet.append([_text(row.building), _text(row.unit), _text(row.room), row.area_m2, _text(owner),
                      row.homes_of_owner, _text(choice),
                      _text(words.named(BALLOT_SOURCES, row.source) if row.source else ""),
                      _text(row.authority or ""), _text(words.when(row.cast_at) if row.cast_at else "")])
        sheet.cell(sheet.max_row, 4).number_format = "0.00"
    sheet.append([])
    sheet.append([_text(words(_("Totals"))), _text(words(_("Heads"))), _text(words(_("Area (m²)")))])
    for name, heads, area in totals:
        sheet.append([_text(name), heads, area])
        sheet.cell(sheet.max_row, 3).number_format = "0.00"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
