from __future__ import annotations

import itertools

import pytest

from bot.deliberation.errors import IllegalTransition, NotEligible
from bot.deliberation.proposal import (
    ACTION_ROLES,
    OPEN_STATES,
    TERMINAL_STATES,
    Category,
    ProposalAction,
    ProposalState,
    Role,
    after_passed_vote,
    allowed_actions,
    authorize,
    is_terminal,
    transition,
    withdraw,
)

S, A = ProposalState, ProposalAction

# Written out by hand so that the test does not merely restate the module's table.
LEGAL: dict[tuple[ProposalState, ProposalAction], ProposalState] = {
    (S.COLLECTING, A.REACH_THRESHOLD): S.REVIEW,
    (S.COLLECTING, A.EXPIRE): S.EXPIRED,
    (S.COLLECTING, A.WITHDRAW): S.WITHDRAWN,
    (S.COLLECTING, A.DECLINE): S.DECLINED,
    (S.COLLECTING, A.MERGE): S.MERGED,
    (S.REVIEW, A.ACCEPT): S.AGENDA,
    (S.REVIEW, A.WITHDRAW): S.WITHDRAWN,
    (S.REVIEW, A.DECLINE): S.DECLINED,
    (S.REVIEW, A.MERGE): S.MERGED,
    (S.AGENDA, A.OPEN_VOTE): S.VOTING,
    (S.AGENDA, A.WITHDRAW): S.WITHDRAWN,
    (S.AGENDA, A.DECLINE): S.DECLINED,
    (S.AGENDA, A.MERGE): S.MERGED,
    (S.VOTING, A.VOTE_PASSED): S.ADOPTED,
    (S.VOTING, A.VOTE_FAILED): S.REJECTED,
    (S.VOTING, A.OPEN_OBJECTIONS): S.OBJECTION,
    (S.OBJECTION, A.OBJECTIONS_CLEARED): S.ADOPTED,
    (S.OBJECTION, A.OBJECTIONS_BLOCKING): S.REJECTED,
    (S.ADOPTED, A.START_IMPLEMENTATION): S.IMPLEMENTING,
    (S.IMPLEMENTING, A.COMPLETE): S.DONE,
}
ILLEGAL = [pair for pair in itertools.product(ProposalState, ProposalAction) if pair not in LEGAL]


@pytest.mark.parametrize(("state", "action"), list(LEGAL))
def test_legal_transition(state: ProposalState, action: ProposalAction) -> None:
    assert transition(state, action) is LEGAL[state, action]
    assert action in allowed_actions(state)


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_illegal_transition_names_current_state(state: ProposalState, action: ProposalAction) -> None:
    with pytest.raises(IllegalTransition) as info:
        transition(state, action)
    assert info.value.current == state
    assert info.value.action == action
    assert info.value.params == {"current": str(state), "action": str(action)}


def test_no_vote_on_an_unposted_topic() -> None:
    with pytest.raises(IllegalTransition):
        transition(S.REVIEW, A.OPEN_VOTE)


def test_terminal_and_open_states() -> None:
    terminal = {S.DONE, S.WITHDRAWN, S.DECLINED, S.MERGED, S.EXPIRED, S.REJECTED}
    assert terminal == TERMINAL_STATES
    assert set(ProposalState) - terminal == OPEN_STATES
    for state in ProposalState:
        assert is_terminal(state) == (state in terminal)
        assert (allowed_actions(state) == ()) == (state in terminal)


def test_full_elevator_path() -> None:
    state = S.COLLECTING
    for action in (A.REACH_THRESHOLD, A.ACCEPT, A.OPEN_VOTE, after_passed_vote(Category.ELEVATOR),
                   A.OBJECTIONS_CLEARED, A.START_IMPLEMENTATION, A.COMPLETE):
        state = transition(state, action)
    assert state is S.DONE
    assert after_passed_vote(Category.PARKING) is A.VOTE_PASSED


def test_withdraw_only_by_author_and_before_voting() -> None:
    assert withdraw(S.AGENDA, actor="u1", author="u1") is S.WITHDRAWN
    with pytest.raises(NotEligible):
        withdraw(S.COLLECTING, actor="moderator", author="u1")
    with pytest.raises(IllegalTransition):
        withdraw(S.VOTING, actor="u1", author="u1")


def test_roles() -> None:
    assert set(ACTION_ROLES) == set(ProposalAction)
    authorize(A.WITHDRAW, {Role.AUTHOR})
    authorize(A.ACCEPT, {Role.MODERATOR, Role.AUTHOR})
    with pytest.raises(NotEligible):
        authorize(A.WITHDRAW, {Role.MODERATOR})
    with pytest.raises(NotEligible):
        authorize(A.VOTE_PASSED, {Role.MODERATOR})


def test_categories() -> None:
    assert [c.value for c in Category] == [
        "elevator", "environment", "parking", "safety", "property_management", "other",
    ]
