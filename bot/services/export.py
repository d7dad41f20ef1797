"""Export for the council: proposals with co-signatures, and every vote with its frozen result.

Secret votes export no individual choice, no count by option while open and no list of who voted
(only keyed commitments, for voters to find their receipts); open votes list each ballot (owners may inspect
ballots, Interpretation on building co-ownership Art. 13).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import func, select

from bot.deliberation.secrecy import receipt
from bot.deliberation.text import csv_cell
from bot.deliberation.vote_kinds import get_kind
from bot.services.voting import result_document, roll_and_ballots, tally, turnouts_in
from bot.storage.models import Ballot, Proposal, RollEntry, Support, Vote
from bot.storage.uow import Database, UnitOfWork

MEASURED = ("eligible", "participated", "yes", "no", "abstain")
CSV_COLUMNS = [
    "proposal_id", "title", "category", "scope", "state", "supports", "threshold",
    "vote_id", "kind", "vote_status", "secret", "opened_at", "closes_at", "closed_at", "roll_size", "passed",
    *[f"{name}_{part}" for name in MEASURED for part in ("heads", "area_m2")],
    "criteria",
]


async def export_data(db: Database, proposal_id: int | None = None) -> dict[str, Any]:
    async with db.uow(readonly=True) as uow:
        query = select(Proposal).order_by(Proposal.id)  # type: ignore[arg-type]
        if proposal_id is not None:
            query = query.where(Proposal.id == proposal_id)
        proposals = (await uow.session.execute(query)).scalars().all()
        out: list[dict[str, Any]] = []
        for proposal in proposals:
            supports = (await uow.session.execute(
                select(func.count()).select_from(Support).where(Support.proposal_id == proposal.id))).scalar_one()
            votes = (await uow.session.execute(
                select(Vote).where(Vote.proposal_id == proposal.id).order_by(Vote.id))).scalars().all()  # type: ignore[arg-type]
            exported_votes = []
            for vote in votes:
                assert vote.id is not None
                roll_size = (await uow.session.execute(
                    select(func.count()).select_from(RollEntry).where(RollEntry.vote_id == vote.id))).scalar_one()
                if vote.result is not None:
                    result = vote.result
                elif vote.secret:  # nothing early: an open secret vote shows turnout by heads only
                    result = await _secret_turnout(uow, vote)
                else:  # an open vote: the standing, marked provisional
                    roll, ballots = await roll_and_ballots(uow, vote.id)
                    result = {**result_document(tally(get_kind(vote.kind), vote, roll, ballots), len(roll)),
                              "provisional": True}
                entry: dict[str, Any] = {
                    "id": vote.id, "kind": vote.kind, "status": vote.status, "secret": vote.secret,
                    "scope": vote.scope, "options": vote.options, "opened_at": vote.opened_at.isoformat(),
                    "closes_at": vote.closes_at.isoformat(),
                    "closed_at": vote.closed_at.isoformat() if vote.closed_at else None,
                    "roll_size": int(roll_size), "result": result,
                }
                if not vote.secret:
                    ballots_rows = (await uow.session.execute(
                        select(Ballot).where(Ballot.vote_id == vote.id).order_by(Ballot.elector_key))).scalars()
                    entry["ballots"] = [
                        {"elector": b.elector_key, "choice": b.choice, "source": b.source, "authority": b.authority,
                         "revision": b.revision, "cast_at": b.cast_at.isoformat()}
                        for b in ballots_rows
                    ]
                else:
                    # Only keyed commitments, without who cast them, in no meaningful order: a voter finds
                    # the receipt code they were given (its first 12 hex digits) among them.
                    commitments = (await uow.session.execute(
                        select(Ballot.commitment).where(Ballot.vote_id == vote.id)
                        .order_by(Ballot.commitment))).scalars().all()
                    entry["commitments"] = [{"commitment": c, "receipt": receipt(c)} for c in commitments]
                exported_votes.append(entry)
            out.append({
                "id": proposal.id, "title": proposal.title, "body": proposal.body, "category": proposal.category,
                "scope": proposal.scope, "state": proposal.state, "supports": int(supports),
                "threshold": proposal.support_threshold, "households_in_scope": proposal.households_in_scope,
                "reason": proposal.reason, "merged_into": proposal.merged_into_id,
                "created_at": proposal.created_at.isoformat(), "votes": exported_votes,
            })
        head = await uow.ledger.head()
    return {"format": "yishi-export/1", "ledger_head": head, "proposals": out}


async def _secret_turnout(uow: UnitOfWork, vote: Vote) -> dict[str, Any]:
    assert vote.id is not None
    standing = (await turnouts_in(uow, [vote.id]))[vote.id][1]
    return {"kind": vote.kind, "passed": None, "provisional": True,
            "eligible": {"heads": standing["eligible"]["heads"], "area_m2": None},
            "participated": {"heads": standing["participated"]["heads"], "area_m2": None}, "criteria": []}


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


class _SafeWriter:
    """A DictWriter whose text cells cannot start a spreadsheet formula (see ``csv_cell``)."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
        self._writer.writeheader()

    def writerow(self, row: dict[str, Any]) -> None:
        self._writer.writerow({key: csv_cell(value) for key, value in row.items()})


def to_csv(data: dict[str, Any]) -> str:
    """One row per vote (a proposal without a vote has one row with empty vote columns)."""
    buffer = io.StringIO()
    writer = _SafeWriter(buffer)
    for proposal in data["proposals"]:
        base = {"proposal_id": proposal["id"], "title": proposal["title"], "category": proposal["category"],
                "scope": proposal["scope"], "state": proposal["state"], "supports": proposal["supports"],
                "threshold": proposal["threshold"]}
        if not proposal["votes"]:
            writer.writerow(base)
        for vote in proposal["votes"]:
            result = vote["result"]
            row = {**base, "vote_id": vote["id"], "kind": vote["kind"], "vote_status": vote["status"],
                   "secret": vote["secret"], "opened_at": vote["opened_at"], "closes_at": vote["closes_at"],
                   "closed_at": vote["closed_at"] or "", "roll_size": vote["roll_size"], "passed": result["passed"]}
            for name in MEASURED:
                if name in result:
                    row[f"{name}_heads"] = result[name]["heads"]
                    row[f"{name}_area_m2"] = result[name]["area_m2"]
            row["criteria"] = "; ".join(
                f"{c['name']} {c['actual']} {c['op']} {c['required']} {'met' if c['met'] else 'not met'}"
                for c in result["criteria"])
            writer.writerow(row)
    return buffer.getvalue()
