"""The council's documents as use cases: gather a matter's frozen figures and hand them to ``bot.records``.

The figures are ``bot.services.export``'s own (the same function reads them), so the announcement and the
register always say what ``yishi export`` says. A document is made only for a closed vote: an open vote has
no result yet, and a paper announcing a standing would read like a decision.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.deliberation.errors import InvalidInput, NotFound
from bot.deliberation.scope import Scope
from bot.deliberation.vote_kinds import get_kind
from bot.i18n import Translator, _
from bot.records import announcement as announcement_doc
from bot.records import register as register_doc
from bot.records.words import Words
from bot.services import directory
from bot.services.directory import Actor, Home
from bot.services.export import export_data
from bot.storage.models import Ballot, Community, CouncilRole, Member, Owner, Proposal, RollEntry, Vote, utcnow
from bot.storage.uow import Database, UnitOfWork

__all__ = ["Document", "announcement", "register"]


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    content: bytes
    mime: str


def _refuse(reason: str, proposal_id: int, **params: Any) -> InvalidInput:
    return InvalidInput(f"records: {reason}", what="records", reason=reason, id=proposal_id, **params)


async def _closed_vote(db: Database, proposal_id: int, actor: Actor | None) -> tuple[dict[str, Any], dict[str, Any],
                                                                                     Community, list[str]]:
    """The proposal and its last vote as exported, the community and the council's names; rights checked."""
    async with db.uow(readonly=True) as uow:
        proposal = await uow.session.get(Proposal, proposal_id)
        if proposal is None:
            raise NotFound(f"no proposal {proposal_id}", what="proposal", id=proposal_id)
        community = await directory.community_by_id(uow, proposal.community_id)
        if actor is not None:  # from a chat: the council only (the command line is the operator's)
            await directory.require_moderator(uow, actor, proposal.community_id)
        vote = (await uow.session.execute(select(Vote).where(col(Vote.proposal_id) == proposal_id)
                                          .order_by(col(Vote.id).desc()).limit(1))).scalars().first()
        if vote is None:
            raise _refuse("no_vote", proposal_id)
        if vote.status != "closed" or vote.result is None:
            raise _refuse("vote_open", proposal_id, vote=vote.id)
        council = await _council_names(uow, proposal.community_id)
    data = await export_data(db, proposal_id)
    exported = data["proposals"][0]
    exported_vote = next(v for v in exported["votes"] if v["id"] == vote.id)
    exported["ledger_head"] = data["ledger_head"]
    return exported, exported_vote, community, council


async def _council_names(uow: UnitOfWork, community_id: int) -> list[str]:
    rows = await uow.session.execute(
        select(col(Member.display_name)).join(CouncilRole, col(CouncilRole.member_id) == col(Member.id))
        .where(col(CouncilRole.community_id) == community_id).order_by(col(CouncilRole.id)))
    return [name for (name,) in rows]


async def announcement(db: Database, proposal_id: int, translator: Translator, locale: str, tz: tzinfo,
                       actor: Actor | None = None, now: datetime | None = None) -> Document:
    """The result announcement of the proposal's (last, closed) vote, as A4 PDF."""
    proposal, vote, community, council = await _closed_vote(db, proposal_id, actor)
    doc = announcement_doc.Announcement(
        community=community.name, proposal=proposal, vote=vote, source=get_kind(vote["kind"]).source,
        council=council, ledger_head=proposal["ledger_head"], issued=now or utcnow())
    # Laying out a PDF takes a moment of CPU: off the event loop, so chats keep being answered meanwhile.
    content = await asyncio.to_thread(announcement_doc.build, doc, Words(translator, locale, tz))
    return Document(f"announcement-{proposal_id}-vote-{vote['id']}.pdf", content, "application/pdf")


async def register(db: Database, proposal_id: int, translator: Translator, locale: str, tz: tzinfo,
                   actor: Actor | None = None) -> Document:
    """One row per home on the vote's frozen roll, with the elector's ballot, and totals, as .xlsx."""
    proposal, vote, community, _council = await _closed_vote(db, proposal_id, actor)
    assert community.id is not None
    words = Words(translator, locale, tz)
    async with db.uow(readonly=True) as uow:
        rows, totals = await _register_rows(uow, community.id, vote)
    title = words(_("Register of the vote on #{id} {title}", id=proposal["id"], title=proposal["title"]))
    content = await asyncio.to_thread(register_doc.build, rows,
                                      [(words(name), heads, area) for name, heads, area in totals], words, title)
    return Document(f"register-{proposal_id}-vote-{vote['id']}.xlsx", content,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _homes_of(key: str, homes: list[Home]) -> list[Home]:
    kind, _sep, raw = key.partition(":")
    if kind == "unit":
        return [h for h in homes if str(h.id) == raw]
    return [h for h in homes if h.owner_key == key]


async def _register_rows(uow: UnitOfWork, community_id: int, vote: dict[str, Any]) -> tuple[
        list[register_doc.Row], list[tuple[Any, int, Decimal]]]:
    homes = await directory.homes(uow, community_id, Scope.parse(vote["scope"]))
    refs = {k: v for k, v in await uow.session.execute(
        select(col(Owner.id), col(Owner.ref)).where(col(Owner.community_id) == community_id))}
    roll = list(await uow.session.execute(
        select(col(RollEntry.elector_key), col(RollEntry.area_centi)).where(col(RollEntry.vote_id) == vote["id"])
        .order_by(col(RollEntry.id))))
    ballots = {b.elector_key: b for b in (await uow.session.execute(
        select(Ballot).where(col(Ballot.vote_id) == vote["id"]))).scalars()}
    rows: list[register_doc.Row] = []
    heads: dict[str, int] = defaultdict(int)
    area: dict[str, int] = defaultdict(int)
    for key, area_centi in roll:
        mine = _homes_of(key, homes)
        ballot = ballots.get(key)
        choice: str | None = None
        if ballot is not None:
            choice = "secret" if vote["secret"] else _choice_text(ballot.choice, vote.get("options"))
        owner = "developer" if key == "developer" else (refs.get(mine[0].owner_id, key) if mine else key)
        placed: list[Home | None] = list(mine) or [None]  # a roll entry whose home left the census: one row
        for home in placed:
            rows.append(register_doc.Row(
                building=home.building if home else "", unit=home.unit if home else "", room=home.room if home else "",
                area_m2=Decimal(home.area_centi if home else area_centi) / 100, owner=owner,
                homes_of_owner=len(mine), choice=choice,
                source=ballot.source if ballot else None, authority=ballot.authority if ballot else None,
                cast_at=ballot.cast_at.isoformat() if ballot else None))
        groups = ["eligible"] + (["participated"] if ballot is not None else [])
        if ballot is not None and not vote["secret"] and isinstance(ballot.choice, str):
            groups.append(ballot.choice)
        for group in groups:
            heads[group] += 1
            area[group] += area_centi
    names = {"eligible": _("Eligible"), "participated": _("Took part"), "yes": _("Yes"), "no": _("No"),
             "abstain": _("Abstain")}
    shown = ["eligible", "participated"] + ([] if vote["secret"] else ["yes", "no", "abstain"])
    totals = [(names[g], heads[g], Decimal(area[g]) / 100) for g in shown]
    return rows, totals


def _choice_text(choice: Any, options: list[str] | None) -> str:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, list) and options:
        return ", ".join(options[i] for i in choice if isinstance(i, int) and 0 <= i < len(options))
    return str(choice)
