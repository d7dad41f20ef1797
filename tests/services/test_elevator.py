from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.deliberation.errors import IllegalTransition, InvalidInput, NotEligible
from bot.services import agenda, elevator, voting
from bot.storage import Database
from tests.services.conftest import MODERATOR, T0, census

SIX_FLOORS = census(*[("1-1", f"{f}0{r}", f, "60.00", f"O{f}{r}", "person") for f in range(1, 7) for r in (1, 2)])


async def _passed_elevator(db: Database, make_community, link, **settings) -> tuple[int, int]:
    cid = await make_community(SIX_FLOORS, support_fixed=1, **settings)
    voters = [await link(cid, f"1-1-{f}0{r}", f * 10 + r) for f in range(1, 7) for r in (1, 2)]
    pid = (await agenda.propose(db, cid, voters[0], "Elevator for 1-1", scope="1-1", category="elevator",
                                now=T0)).proposal.id
    await agenda.accept(db, pid, MODERATOR, now=T0)
    vote = await voting.open_vote(db, pid, MODERATOR, "elevator", 10, now=T0)
    obj = await elevator.record_objection(db, pid, MODERATOR, "1-1-101", "light", "blocks the window", now=T0)
    for voter in voters[1:]:
        await voting.cast_ballot(db, vote.id, voter, "yes", now=T0)
    await voting.cast_ballot(db, vote.id, voters[0], "no", now=T0)
    closed = await voting.close_vote(db, vote.id, MODERATOR, now=T0 + timedelta(days=10))
    assert closed.result["passed"]
    return pid, obj.id


async def test_open_objection_at_the_end_of_the_period_blocks(db: Database, make_community, link) -> None:
    pid, _ = await _passed_elevator(db, make_community, link)
    proposal, _ = await agenda.get_proposal(db, pid)
    assert proposal.state == "objection"
    assert proposal.objection_until == T0 + timedelta(days=25)
    end = proposal.objection_until
    await elevator.record_objection(db, pid, MODERATOR, "1-1-102", "noise", now=end - timedelta(hours=1))
    with pytest.raises(IllegalTransition):
        await elevator.record_objection(db, pid, MODERATOR, "1-1-102", "noise", now=end)
    with pytest.raises(IllegalTransition):
        await elevator.settle_objection_period(db, pid, now=end - timedelta(seconds=1))
    assert await elevator.objection_periods_due(db, now=end) == [pid]
    settled = await elevator.settle_objection_period(db, pid, now=end)
    assert settled.blocking == 2 and settled.proposal.state == "rejected"


async def test_resolved_objections_let_the_elevator_be_adopted(db: Database, make_community, link) -> None:
    pid, oid = await _passed_elevator(db, make_community, link)
    with pytest.raises(InvalidInput):
        await elevator.update_objection(db, oid, MODERATOR, "forgotten")
    await elevator.update_objection(db, oid, MODERATOR, "mediating", now=T0 + timedelta(days=11))
    await elevator.update_objection(db, oid, MODERATOR, "resolved", "light study done", now=T0 + timedelta(days=12))
    settled = await elevator.settle_objection_period(db, pid, now=T0 + timedelta(days=25))
    assert settled.blocking == 0 and settled.proposal.state == "adopted"


async def test_vote_only_rule_adopts_at_once(db: Database, make_community, link) -> None:
    pid, _ = await _passed_elevator(db, make_community, link, elevator_rule="vote_only")
    assert (await agenda.get_proposal(db, pid))[0].state == "adopted"


async def test_objections_need_a_moderator_and_a_known_reason(db: Database, make_community, link) -> None:
    cid = await make_community(SIX_FLOORS, support_fixed=1)
    owner = await link(cid, "1-1-101", 1)
    pid = (await agenda.propose(db, cid, owner, "Elevator", scope="1-1", category="elevator", now=T0)).proposal.id
    await agenda.accept(db, pid, MODERATOR, now=T0)
    with pytest.raises(IllegalTransition):  # not voting yet
        await elevator.record_objection(db, pid, MODERATOR, "1-1-101", "light", now=T0)
    await voting.open_vote(db, pid, MODERATOR, "elevator", 10, now=T0)
    with pytest.raises(NotEligible):
        await elevator.record_objection(db, pid, owner, "1-1-101", "light", now=T0)
    with pytest.raises(InvalidInput):
        await elevator.record_objection(db, pid, MODERATOR, "1-1-101", "feng shui", now=T0)


async def test_cost_shares_follow_the_guangzhou_table(db: Database, make_community) -> None:
    cid = await make_community(SIX_FLOORS)
    shares = await elevator.cost_shares(db, cid, "1-1", total_fen=60_000_000, subsidy_fen=20_000_000)
    assert sum(s.fen for s in shares) == 40_000_000
    by_floor = {s.floor: s.fen for s in shares}
    assert by_floor[1] == 0 and by_floor[2] < by_floor[3] < by_floor[4] < by_floor[5] < by_floor[6]
    # Equal areas: weights 0, .5, 1, 1.1, 1.2, 1.3 (sum 5.1 per column), so floor 3 pays 1/10.2 of the total.
    assert by_floor[3] in (40_000_000 * 10 // 102, 40_000_000 * 10 // 102 + 1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(areas=st.lists(st.integers(min_value=3000, max_value=15000), min_size=12, max_size=12),
       total=st.integers(min_value=1, max_value=10**9))
def test_cost_shares_sum_exactly_for_random_buildings(areas: list[int], total: int) -> None:
    from bot.deliberation.cost import GUANGZHOU_COEFFICIENTS, Home, share_costs

    homes = [Home(f"h{i}", i // 2 + 1, a) for i, a in enumerate(areas)]
    shares = share_costs(homes, total, 0, GUANGZHOU_COEFFICIENTS)
    assert sum(shares.values()) == total and all(v >= 0 for v in shares.values())
