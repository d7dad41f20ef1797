"""Rows checked against the ledger: ballots, results and registrations.

The ledger is keyed (LEDGER_KEY), so its entries are what the rows must agree with: a ballot row must
be the last one the ledger records for its elector (same revision, source and commitment, and the
commitment must open to the stored or sealed choice), a closed vote's result must be the one its
``vote_closed`` entry froze, and a member's link to a home must have the role and status of its last
registration entry.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.deliberation import secrecy
from bot.deliberation.ledger import commitment
from bot.storage.models import Ballot, LedgerEntry, MemberLink, Vote
from bot.storage.uow import UnitOfWork

BALLOT_EVENTS = ("ballot_cast", "ballot_changed")
LINK_EVENTS = ("link_requested", "link_decided", "member_linked")


async def ballot_problems(uow: UnitOfWork, vote: Vote) -> list[str]:
    """Every way this vote's ballot rows disagree with the ledger (empty when they agree)."""
    assert vote.id is not None
    recorded: dict[str, dict[str, Any]] = {}
    entries = await uow.session.execute(
        select(col(LedgerEntry.payload)).where(col(LedgerEntry.subject) == f"vote:{vote.id}",
                                          col(LedgerEntry.event).in_(BALLOT_EVENTS))
        .order_by(col(LedgerEntry.seq)))
    for (payload,) in entries:
        body = json.loads(payload)
        recorded[body["elector"]] = body
    rows = (await uow.session.execute(select(Ballot).where(col(Ballot.vote_id) == vote.id))).scalars().all()
    problems = [f"vote {vote.id}: ballot of {key} is in the ledger but not stored"
                for key in sorted(recorded.keys() - {b.elector_key for b in rows})]
    for ballot in rows:
        where = f"vote {vote.id}: ballot of {ballot.elector_key}"
        entry = recorded.get(ballot.elector_key)
        if entry is None:
            problems.append(f"{where} is not in the ledger")
            continue
        if (entry["revision"], entry["source"], entry["commitment"]) != (
                ballot.revision, ballot.source, ballot.commitment):
            problems.append(f"{where} differs from the ledger (revision, source or commitment)")
            continue
        if vote.secret:
            try:
                choice = secrecy.unseal(uow.keys.ballots, vote.id, ballot.elector_key, ballot.revision,
                                        ballot.sealed or "")
            except (secrecy.SealError, ValueError):
                problems.append(f"{where}: the sealed choice does not open")
                continue
            if secrecy.keyed_commitment(uow.keys.ballots, vote.id, ballot.elector_key, ballot.revision,
                                        choice) != ballot.commitment:
                problems.append(f"{where}: the sealed choice does not match its commitment")
        elif entry.get("choice") != ballot.choice or commitment(ballot.nonce, ballot.choice) != ballot.commitment:
            problems.append(f"{where}: the choice differs from the ledger")
    return problems


async def result_problems(uow: UnitOfWork, vote: Vote) -> list[str]:
    """A closed vote's stored result must be the one frozen in its ``vote_closed`` entry."""
    closed = [json.loads(p) for (p,) in await uow.session.execute(
        select(col(LedgerEntry.payload)).where(col(LedgerEntry.event) == "vote_closed").order_by(col(LedgerEntry.seq)))]
    frozen = [body for body in closed if body.get("vote") == vote.id]
    if vote.status != "closed":
        return [f"vote {vote.id}: the ledger has it closed but it is stored open"] if frozen else []
    if not frozen:
        return [f"vote {vote.id}: closed but not in the ledger"]
    if frozen[-1].get("result") != vote.result:
        return [f"vote {vote.id}: the stored result differs from the ledger"]
    return []


async def link_problems(uow: UnitOfWork) -> list[str]:
    """Every member_link row against its last registration entry in the ledger."""
    recorded: dict[tuple[int, int], tuple[str, str]] = {}
    entries = await uow.session.execute(
        select(col(LedgerEntry.event), col(LedgerEntry.subject), col(LedgerEntry.payload))
        .where(col(LedgerEntry.event).in_(LINK_EVENTS)).order_by(col(LedgerEntry.seq)))
    for event, subject, payload in entries:
        body = json.loads(payload)
        status = {"link_requested": "pending", "member_linked": "verified"}.get(event, body.get("status", ""))
        recorded[(int(subject.removeprefix("member:")), int(body["unit"]))] = (body.get("role", "owner"), status)
    problems = []
    rows = (await uow.session.execute(select(MemberLink))).scalars().all()
    for link in rows:
        entry = recorded.pop((link.member_id, link.exclusive_unit_id), None)
        if entry != (link.role, link.status):
            problems.append(f"member_link {link.id}: member {link.member_id}, home {link.exclusive_unit_id} "
                            f"is {link.role}/{link.status}, the ledger says "
                            f"{'/'.join(entry) if entry else 'nothing'}")
    problems.extend(f"member {m}, home {u}: {role}/{status} in the ledger but not stored"
                    for (m, u), (role, status) in recorded.items() if status == "verified")
    return problems


async def row_problems(uow: UnitOfWork) -> list[str]:
    """Every ballot, result and registration row checked against the ledger."""
    problems: list[str] = []
    for vote in (await uow.session.execute(select(Vote).order_by(col(Vote.id)))).scalars():
        problems += await ballot_problems(uow, vote)
        problems += await result_problems(uow, vote)
    return problems + await link_problems(uow)
