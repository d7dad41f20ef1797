"""The lifecycle of a matter, as a transition table.

collecting co-signatures -> review -> agenda (notice) -> voting
-> (elevator: objection period) -> adopted -> implementing -> done.
"""

# A matter is 议题; the steps are 征集 (collecting) -> 审核 (review) -> 公示 (agenda, notice)
# -> 表决 (voting) -> 异议 (objection) -> 执行 (implementing).

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from bot.deliberation.errors import IllegalTransition, NotEligible


class Category(StrEnum):
    ELEVATOR = "elevator"
    ENVIRONMENT = "environment"
    PARKING = "parking"
    SAFETY = "safety"
    PROPERTY_MANAGEMENT = "property_management"
    OTHER = "other"


class ProposalState(StrEnum):
    COLLECTING = "collecting"  # gathering co-signatures
    REVIEW = "review"  # threshold reached; moderators decide
    AGENDA = "agenda"  # accepted and posted: the notice period before the vote
    VOTING = "voting"
    OBJECTION = "objection"  # elevator: objection period after a passed vote
    ADOPTED = "adopted"
    IMPLEMENTING = "implementing"
    DONE = "done"
    WITHDRAWN = "withdrawn"
    DECLINED = "declined"
    MERGED = "merged"
    EXPIRED = "expired"
    REJECTED = "rejected"


class ProposalAction(StrEnum):
    REACH_THRESHOLD = "reach_threshold"
    EXPIRE = "expire"
    ACCEPT = "accept"
    DECLINE = "decline"
    MERGE = "merge"
    WITHDRAW = "withdraw"
    OPEN_VOTE = "open_vote"
    VOTE_PASSED = "vote_passed"
    VOTE_FAILED = "vote_failed"
    OPEN_OBJECTIONS = "open_objections"
    OBJECTIONS_CLEARED = "objections_cleared"
    OBJECTIONS_BLOCKING = "objections_blocking"
    START_IMPLEMENTATION = "start_implementation"
    COMPLETE = "complete"


class Role(StrEnum):
    AUTHOR = "author"
    MODERATOR = "moderator"  # a council member of the community (mandate.py), never a chat admin as such
    SYSTEM = "system"  # deadlines, support counts and tallies, never a person


_S, _A = ProposalState, ProposalAction

# Before the vote the author may withdraw, and moderators may decline (with a public
# reason) or merge into a duplicate; once voting opens the matter belongs to the meeting.
_EXITS_BEFORE_VOTE = {_A.WITHDRAW: _S.WITHDRAWN, _A.DECLINE: _S.DECLINED, _A.MERGE: _S.MERGED}

_TABLE: dict[ProposalState, dict[ProposalAction, ProposalState]] = {
    _S.COLLECTING: {_A.REACH_THRESHOLD: _S.REVIEW, _A.EXPIRE: _S.EXPIRED, **_EXITS_BEFORE_VOTE},
    # No open_vote from review: topics must be posted before the vote (Beijing: 15 days for
    # an owners' meeting; no vote on unposted topics), so a moderator accepts first. The
    # notice period itself is a date check for the services.
    _S.REVIEW: {_A.ACCEPT: _S.AGENDA, **_EXITS_BEFORE_VOTE},
    _S.AGENDA: {_A.OPEN_VOTE: _S.VOTING, **_EXITS_BEFORE_VOTE},
    # A passed elevator vote opens the objection period instead of adopting at once
    # (Beijing, Chengdu, Jinan: remaining objections resolved; Jinan: plan posted 15 days).
    _S.VOTING: {_A.VOTE_PASSED: _S.ADOPTED, _A.VOTE_FAILED: _S.REJECTED, _A.OPEN_OBJECTIONS: _S.OBJECTION},
    _S.OBJECTION: {_A.OBJECTIONS_CLEARED: _S.ADOPTED, _A.OBJECTIONS_BLOCKING: _S.REJECTED},
    _S.ADOPTED: {_A.START_IMPLEMENTATION: _S.IMPLEMENTING},
    _S.IMPLEMENTING: {_A.COMPLETE: _S.DONE},
}
TRANSITIONS: Final[Mapping[ProposalState, Mapping[ProposalAction, ProposalState]]] = MappingProxyType(
    {state: MappingProxyType(_TABLE.get(state, {})) for state in ProposalState}
)

# Who may take each action.
ACTION_ROLES: Final[Mapping[ProposalAction, Role]] = MappingProxyType({
    _A.REACH_THRESHOLD: Role.SYSTEM,
    _A.EXPIRE: Role.SYSTEM,
    _A.ACCEPT: Role.MODERATOR,
    _A.DECLINE: Role.MODERATOR,
    _A.MERGE: Role.MODERATOR,
    _A.WITHDRAW: Role.AUTHOR,  # only the author, never a moderator on their behalf
    _A.OPEN_VOTE: Role.MODERATOR,
    _A.VOTE_PASSED: Role.SYSTEM,
    _A.VOTE_FAILED: Role.SYSTEM,
    _A.OPEN_OBJECTIONS: Role.SYSTEM,
    _A.OBJECTIONS_CLEARED: Role.MODERATOR,
    _A.OBJECTIONS_BLOCKING: Role.MODERATOR,
    _A.START_IMPLEMENTATION: Role.MODERATOR,
    _A.COMPLETE: Role.MODERATOR,
})

TERMINAL_STATES: Final = frozenset(state for state, moves in TRANSITIONS.items() if not moves)
OPEN_STATES: Final = frozenset(ProposalState) - TERMINAL_STATES


def transition(state: ProposalState, action: ProposalAction) -> ProposalState:
    """The state after ``action``; ``IllegalTransition`` names the current state otherwise."""
    target = TRANSITIONS[ProposalState(state)].get(ProposalAction(action))
    if target is None:
        raise IllegalTransition(str(state), str(action))
    return target


def allowed_actions(state: ProposalState) -> tuple[ProposalAction, ...]:
    return tuple(TRANSITIONS[ProposalState(state)])


def is_terminal(state: ProposalState) -> bool:
    return ProposalState(state) in TERMINAL_STATES


def authorize(action: ProposalAction, roles: Collection[Role]) -> None:
    """Raise ``NotEligible`` unless one of the actor's ``roles`` may take ``action``."""
    required = ACTION_ROLES[ProposalAction(action)]
    if required not in roles:
        raise NotEligible(f"{action} needs {required}", action=str(action), role=str(required))


def withdraw(state: ProposalState, *, actor: str, author: str) -> ProposalState:
    """Only the author withdraws, and only before voting (collecting, review, agenda)."""
    if actor != author:
        raise NotEligible("only the author may withdraw", action=str(_A.WITHDRAW), role=str(Role.AUTHOR))
    return transition(state, _A.WITHDRAW)


def after_passed_vote(category: Category) -> ProposalAction:
    """An elevator matter goes to the objection period; others are adopted at once."""
    return _A.OPEN_OBJECTIONS if Category(category) is Category.ELEVATOR else _A.VOTE_PASSED
