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
from sqlmodel import col

from bot.deliberation.scope import Scope, ScopeLevel
from bot.deliberation.secrecy import receipt
from bot.deliberation.text import csv_cell
from bot.deliberation.vote_kinds import get_kind
from bot.services import directory
from bot.services.directory import Home
from bot.services.voting import result_document, roll_and_ballots, tally, turnouts_in
from bot.storage.models import Ballot, Member, Objection, Owner, Proposal, RollEntry, Support, Vote
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
        query = select(Proposal).order_by(col(Proposal.id))
        if proposal_id is not None:
            query = query.where(col(Proposal.id) == proposal_id)
        proposals = (await uow.session.execute(query)).scalars().all()
        out: list[dict[str, Any]] = []
        people: dict[int, _People] = {}
        for proposal in proposals:
            if proposal.community_id not in people:
                people[proposal.community_id] = await _people(uow, proposal.community_id)
            who = people[proposal.community_id]
            supports = (await uow.session.execute(
                select(func.count()).select_from(Support).where(col(Support.proposal_id) == proposal.id))).scalar_one()
            votes = (await uow.session.execute(
                select(Vote).where(col(Vote.proposal_id) == proposal.id).order_by(col(Vote.id)))).scalars().all()
            exported_votes = []
            for vote in votes:
                assert vote.id is not None
                roll_size = (await uow.session.execute(
                    select(func.count()).select_from(RollEntry).where(col(RollEntry.vote_id) == vote.id))).scalar_one()
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
                        select(Ballot).where(col(Ballot.vote_id) == vote.id)
                        .order_by(col(Ballot.elector_key)))).scalars()
                    scope = Scope.parse(vote.scope)
                    entry["ballots"] = [
                        {"elector": b.elector_key, "choice": b.choice, "source": b.source, "authority": b.authority,
                         "revision": b.revision, "cast_at": b.cast_at.isoformat(),
                         **who.describe(b.elector_key, scope)}
                        for b in ballots_rows
                    ]
                else:
                    # Only keyed commitments, without who cast them, in no meaningful order: a voter finds
                    # the receipt code they were given (its first 12 hex digits) among them.
                    commitments = (await uow.session.execute(
                        select(col(Ballot.commitment)).where(col(Ballot.vote_id) == vote.id)
                        .order_by(col(Ballot.commitment)))).scalars().all()
                    entry["commitments"] = [{"commitment": c, "receipt": receipt(c)} for c in commitments]
                exported_votes.append(entry)
            out.append({
                "id": proposal.id, "title": proposal.title, "body": proposal.body, "category": proposal.category,
                "scope": proposal.scope, "state": proposal.state, "supports": int(supports),
                "threshold": proposal.support_threshold, "households_in_scope": proposal.households_in_scope,
                "reason": proposal.reason, "merged_into": proposal.merged_into_id,
                "created_at": proposal.created_at.isoformat(), "votes": exported_votes,
                **await _readable(uow, proposal, who),
            })
        head = await uow.ledger.head()
    return {"format": "yishi-export/1", "ledger_head": head, "proposals": out}


class _People:
    """Who an internal key stands for, in words a council can check: homes (3-2-501) and the census owner."""

    def __init__(self, homes: list[Home], refs: dict[int, str], names: dict[int, str]) -> None:
        self.homes = homes
        self.refs = refs
        self.names = names

    def describe(self, key: str, scope: Scope | None = None) -> dict[str, Any]:
        """``homes`` (labels, within ``scope``) and ``owner`` (census owner id, "developer", or null)."""
        kind, _sep, raw = key.partition(":")
        number = int(raw) if raw.isdigit() else None
        if kind == "member":  # a council member on a council vote: no home
            return {"homes": [], "owner": None, "member": self.names.get(number or 0)}
        if kind == "unit":
            mine = [h for h in self.homes if h.id == number]
        elif kind == "developer":
            mine = [h for h in self.homes if h.owner_kind == "developer"]
        else:
            mine = [h for h in self.homes if h.owner_id == number and h.owner_kind != "developer"]
        if scope is not None:
            mine = [h for h in mine if _within(h, scope)]
        owner = "developer" if kind == "developer" else (self.refs.get(mine[0].owner_id) if mine else None)
        if owner is None and kind == "owner" and number is not None:
            owner = self.refs.get(number)
        return {"homes": [h.label for h in mine], "owner": owner}


def _within(home: Home, scope: Scope) -> bool:
    if scope.level is ScopeLevel.COMMUNITY:
        return True
    if home.building != scope.building:
        return False
    return scope.level is ScopeLevel.BUILDING or home.unit == scope.unit


async def _people(uow: UnitOfWork, community_id: int) -> _People:
    homes = await directory.homes(uow, community_id, Scope.parse("all"))
    refs = {k: v for k, v in await uow.session.execute(
        select(col(Owner.id), col(Owner.ref)).where(col(Owner.community_id) == community_id)) if k is not None}
    names = {k: v for k, v in await uow.session.execute(select(col(Member.id), col(Member.display_name)))
             if k is not None}
    return _People(homes, refs, names)


async def _readable(uow: UnitOfWork, proposal: Proposal, who: _People) -> dict[str, Any]:
    """Co-signatures, objections and progress notes of a matter, with homes and owners beside the ids."""
    supports = (await uow.session.execute(
        select(Support).where(col(Support.proposal_id) == proposal.id).order_by(col(Support.id)))).scalars().all()
    objections = (await uow.session.execute(
        select(Objection).where(col(Objection.proposal_id) == proposal.id).order_by(col(Objection.id)))).scalars().all()
    scope = Scope.parse(proposal.scope)
    cosignatures = [{"household": s.household_key, **who.describe(s.household_key, scope),
                     "at": s.created_at.isoformat()} for s in supports]
    exported_objections = []
    for o in objections:
        described = who.describe(f"owner:{o.owner_id}", scope)
        # The objector's home on the floor the objection names (an owner may hold several in the unit).
        homes = [h.label for h in who.homes
                 if h.owner_id == o.owner_id and h.floor == o.floor and _within(h, scope)] or described["homes"]
        exported_objections.append({
            "id": o.id, "homes": homes, "owner": described["owner"], "floor": o.floor, "reason": o.reason,
            "status": o.status, "detail": o.detail, "created_at": o.created_at.isoformat(),
            "updated_at": o.updated_at.isoformat()})
    progress = []
    for entry in await uow.ledger.for_subject(f"proposal:{proposal.id}"):
        if entry.event in ("implementation_progress", "implementation_done"):
            payload = json.loads(entry.payload)
            progress.append({"at": entry.at.isoformat(), "note": payload.get("note", ""),
                             "done": entry.event == "implementation_done", "state": payload.get("to")})
    return {"cosignatures": cosignatures, "objections": exported_objections, "progress": progress}


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
