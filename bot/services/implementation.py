"""Implementation of adopted matters: progress notes and completion, each in the ledger."""

# The step after the vote is 执行 (implementing), then done.

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.deliberation.errors import IllegalTransition, InvalidInput
from bot.deliberation.mandate import Power
from bot.deliberation.proposal import ProposalAction, ProposalState, transition
from bot.deliberation.text import clean_text, has_visible
from bot.services import directory
from bot.services.directory import Actor
from bot.storage.models import Proposal, utcnow
from bot.storage.uow import Database

NOTE_MAX = 1000


@dataclass(frozen=True, slots=True)
class Progress:
    proposal: Proposal
    note: str
    started: bool  # this note moved the matter from adopted to implementing
    done: bool


def _clean(note: str, *, required: bool) -> str:
    note = clean_text(note, multiline=True)
    if not has_visible(note):
        note = ""
    if required and not note:
        raise InvalidInput("say what was done", field="note")
    if len(note) > NOTE_MAX:
        raise InvalidInput("note too long", field="body", max=NOTE_MAX)
    return note


async def record_progress(
    db: Database, proposal_id: int, actor: Actor, note: str, *, done: bool = False, now: datetime | None = None
) -> Progress:
    """A moderator notes progress; the first note starts implementation, ``done`` completes it.

    Completing an adopted matter with no note before passes through implementing, both steps by the
    transition table, in one entry.
    """
    now = now or utcnow()
    note = _clean(note, required=not done)
    async with db.uow() as uow:
        proposal = await uow.get(Proposal, proposal_id, what="proposal", lock=True)
        moderator = await directory.require_moderator(uow, actor, proposal.community_id, power=Power.PROGRESS)
        before = ProposalState(proposal.state)
        if before not in (ProposalState.ADOPTED, ProposalState.IMPLEMENTING):
            raise IllegalTransition(str(before), "record_progress")
        state: ProposalState = before
        if state is ProposalState.ADOPTED:
            state = transition(state, ProposalAction.START_IMPLEMENTATION)
        if done:
            state = transition(state, ProposalAction.COMPLETE)
        proposal.state = str(state)
        if state is not before:
            proposal.state_changed_at = now
        await uow.ledger.append(
            "implementation_done" if done else "implementation_progress", f"proposal:{proposal_id}",
            {"note": note, "by": moderator.id, "from": str(before), "to": str(state)}, at=now,
        )
        return Progress(proposal, note, before is ProposalState.ADOPTED, done)
