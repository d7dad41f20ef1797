"""Who may do what: the one table of powers every service checks.

A community's powers belong to the members its residents' council named (``yishi council add``),
never to someone because a chat platform made them an administrator of a group: anyone can create
a group, and a group's admins can appoint more admins without the council. A room's admins keep
only what concerns their own room (its digest schedule).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from bot.deliberation.errors import NotEligible
from bot.deliberation.proposal import ACTION_ROLES, ProposalAction, Role


class Mandate(StrEnum):
    COUNCIL = "council"  # named for the community with `yishi council add`
    ROOM_ADMIN = "room_admin"  # an administrator of one bound group, for that room only


class Power(StrEnum):
    REVIEW = "review"  # accept, decline, merge proposals
    OPEN_VOTE = "open_vote"
    CLOSE_VOTE = "close_vote"  # close a vote before its deadline
    PAPER_BALLOT = "paper_ballot"  # paper and proxy ballots
    REGISTRATIONS = "registrations"  # list, approve and deny registration requests
    OBJECTIONS = "objections"  # record, list and update elevator objections
    MEETINGS = "meetings"  # schedule, move, cancel council meetings
    PROGRESS = "progress"  # implementation notes of adopted matters
    BIND_ROOM = "bind_room"  # bind or re-bind a group room to a scope
    ROOM_DIGEST = "room_digest"  # set or stop the scheduled digest of one room
    ROOM_LANGUAGE = "room_language"  # the language everything posted in a room uses


_C = frozenset({Mandate.COUNCIL})

POWERS: Final[Mapping[Power, frozenset[Mandate]]] = MappingProxyType({
    Power.REVIEW: _C,
    Power.OPEN_VOTE: _C,
    Power.CLOSE_VOTE: _C,
    Power.PAPER_BALLOT: _C,
    Power.REGISTRATIONS: _C,
    Power.OBJECTIONS: _C,
    Power.MEETINGS: _C,
    Power.PROGRESS: _C,
    Power.BIND_ROOM: _C,
    Power.ROOM_LANGUAGE: _C,
    # A room's admins may set how often their own room hears what changed; nothing more.
    Power.ROOM_DIGEST: frozenset({Mandate.COUNCIL, Mandate.ROOM_ADMIN}),
})

# The proposal actions a person takes as a moderator (proposal.ACTION_ROLES), and the power each needs.
ACTION_POWERS: Final[Mapping[ProposalAction, Power]] = MappingProxyType({
    ProposalAction.ACCEPT: Power.REVIEW,
    ProposalAction.DECLINE: Power.REVIEW,
    ProposalAction.MERGE: Power.REVIEW,
    ProposalAction.OPEN_VOTE: Power.OPEN_VOTE,
    ProposalAction.OBJECTIONS_CLEARED: Power.OBJECTIONS,
    ProposalAction.OBJECTIONS_BLOCKING: Power.OBJECTIONS,
    ProposalAction.START_IMPLEMENTATION: Power.PROGRESS,
    ProposalAction.COMPLETE: Power.PROGRESS,
})
assert set(ACTION_POWERS) == {a for a, role in ACTION_ROLES.items() if role is Role.MODERATOR}


def permits(power: Power, mandates: Collection[Mandate]) -> bool:
    return not POWERS[Power(power)].isdisjoint(mandates)


def require(power: Power, mandates: Collection[Mandate]) -> None:
    """Raise ``NotEligible`` (reason ``not_moderator``) unless one of ``mandates`` carries ``power``."""
    if not permits(power, mandates):
        raise NotEligible(f"{power} needs the council's mandate", reason="not_moderator", power=str(power))


def room_admin_powers() -> tuple[Power, ...]:
    """What an administrator of a bound room may do without a council role (listed in the README)."""
    return tuple(p for p, who in POWERS.items() if Mandate.ROOM_ADMIN in who)
