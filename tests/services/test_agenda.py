from __future__ import annotations

from datetime import timedelta

import pytest

from bot.deliberation.errors import IllegalTransition, InvalidInput, NotEligible, NotFound
from bot.services import agenda
from bot.services.directory import Actor
from bot.storage import Database
from tests.services.conftest import MODERATOR, T0, census, resident

# Twelve homes in one building unit, like 幸福里: threshold max(5, ceil(12/5)) = 5.
UNIT = census(*[("1-1", f"{f}0{r}", f, "60.00", f"O{f}{r}", "person") for f in range(1, 7) for r in (1, 2)])


async def test_co_signing_to_the_threshold_moves_to_review(db: Database, make_community, link) -> None:
    cid = await make_community(UNIT)
    author = await link(cid, "1-1-101", 1)
    sub = await agenda.propose(db, cid, author, "Fix the leaking roof", "Water on floor 6", scope="1-1",
                               category="safety", now=T0)
    assert sub.proposal is not None and sub.supports == 1
    p = sub.proposal
    assert (p.support_threshold, p.households_in_scope, p.state) == (5, 12, "collecting")
    for i, room in enumerate(["102", "201", "202"], start=2):
        out = await agenda.support(db, p.id, await link(cid, f"1-1-{room}", i), now=T0)
        assert out.added and not out.reached
    again = await agenda.support(db, p.id, resident(2), now=T0)
    assert not again.added and again.supports == 4  # a redelivered press changes nothing
    last = await agenda.support(db, p.id, await link(cid, "1-1-301", 5), now=T0)
    assert last.reached and last.supports == 5 and last.proposal.state == "review"
    with pytest.raises(IllegalTransition) as err:
        await agenda.support(db, p.id, await link(cid, "1-1-302", 6), now=T0)
    assert err.value.current == "review"


async def test_one_support_per_household(db: Database, make_community, link) -> None:
    cid = await make_community(UNIT)
    author = await link(cid, "1-1-101", 1)
    p = (await agenda.propose(db, cid, author, "Bike shed", scope="1-1", now=T0)).proposal
    co_owner = await link(cid, "1-1-101", 2)  # the same owner's home: same household
    out = await agenda.support(db, p.id, co_owner, now=T0)
    assert not out.added and out.supports == 1
    tenant = await link(cid, "1-1-102", 3, role="resident")
    assert (await agenda.support(db, p.id, tenant, now=T0)).added


async def test_supporters_must_live_in_scope(db: Database, make_community, link) -> None:
    two_units = UNIT + "1,2,1,101,50.00,registry,X1,person\n"
    cid = await make_community(two_units)
    author = await link(cid, "1-1-101", 1)
    p = (await agenda.propose(db, cid, author, "Stairwell light", scope="1-1", now=T0)).proposal
    outsider = await link(cid, "1-2-101", 2)
    with pytest.raises(NotEligible):
        await agenda.support(db, p.id, outsider, now=T0)
    with pytest.raises(NotEligible):
        await agenda.support(db, p.id, resident(99), now=T0)  # not registered at all
    with pytest.raises(NotEligible):
        await agenda.propose(db, cid, outsider, "Not my stairwell", scope="1-1", now=T0)


async def test_collecting_window_expires(db: Database, make_community, link) -> None:
    cid = await make_community(UNIT)
    p = (await agenda.propose(db, cid, await link(cid, "1-1-101", 1), "Paint", scope="1-1", now=T0)).proposal
    assert await agenda.expire_due(db, now=T0 + timedelta(days=13)) == []
    with pytest.raises(IllegalTransition):
        await agenda.support(db, p.id, await link(cid, "1-1-102", 2), now=T0 + timedelta(days=14))
    assert await agenda.expire_due(db, now=T0 + timedelta(days=14)) == [p.id]
    assert (await agenda.get_proposal(db, p.id))[0].state == "expired"


async def test_similar_open_proposals_are_offered_first(db: Database, make_community, link) -> None:
    cid = await make_community(UNIT)
    author = await link(cid, "1-1-101", 1)
    first = (await agenda.propose(db, cid, author, "1号楼1单元加装电梯", scope="1-1", category="elevator",
                                  now=T0)).proposal
    other = await link(cid, "1-1-102", 2)
    offer = await agenda.propose(db, cid, other, "一号楼一单元申请装电梯", scope="1-1", category="elevator", now=T0)
    assert offer.proposal is None and [p.id for p, _ in offer.similar] == [first.id]
    unrelated = await agenda.propose(db, cid, other, "楼道灯坏了", scope="1-1", now=T0)
    assert unrelated.proposal is not None
    forced = await agenda.propose(db, cid, other, "一号楼一单元申请装电梯", scope="1-1", category="elevator",
                                  force=True, now=T0)
    assert forced.proposal is not None


async def test_review_decline_merge_withdraw(db: Database, make_community, link) -> None:
    cid = await make_community(UNIT, support_fixed=2)
    a, b = await link(cid, "1-1-101", 1), await link(cid, "1-1-102", 2)
    p1 = (await agenda.propose(db, cid, a, "Parking lines", scope="1-1", now=T0)).proposal
    p2 = (await agenda.propose(db, cid, b, "Bicycle racks", scope="1-1", now=T0)).proposal
    with pytest.raises(NotEligible):
        await agenda.accept(db, p1.id, a, now=T0)  # not a moderator
    with pytest.raises(IllegalTransition) as err:
        await agenda.accept(db, p1.id, MODERATOR, now=T0)  # still collecting
    assert err.value.current == "collecting"
    with pytest.raises(InvalidInput):
        await agenda.decline(db, p1.id, MODERATOR, "   ", now=T0)
    declined = await agenda.decline(db, p1.id, MODERATOR, "Handled by the property manager", now=T0)
    assert (declined.state, declined.reason) == ("declined", "Handled by the property manager")
    p3 = (await agenda.propose(db, cid, a, "More bicycle racks", scope="1-1", force=True, now=T0)).proposal
    merged = await agenda.merge(db, p3.id, p2.id, MODERATOR, now=T0)
    assert merged.state == "merged" and merged.merged_into_id == p2.id
    target, supports = await agenda.get_proposal(db, p2.id)
    assert supports == 2 and target.state == "review"  # a's support carried over reached the threshold
    with pytest.raises(NotEligible):
        await agenda.withdraw_proposal(db, p2.id, a, now=T0)  # only the author
    assert (await agenda.withdraw_proposal(db, p2.id, b, now=T0)).state == "withdrawn"
    with pytest.raises(NotFound):
        await agenda.accept(db, 999, MODERATOR, now=T0)


async def test_elevator_needs_a_building_unit(db: Database, make_community, link) -> None:
    cid = await make_community(UNIT)
    with pytest.raises(InvalidInput):
        await agenda.propose(db, cid, await link(cid, "1-1-101", 1), "Elevator", scope="1", category="elevator")


async def test_a_chat_admin_is_not_a_moderator(db: Database, make_community, link) -> None:
    cid = await make_community(UNIT, support_fixed=1)
    p = (await agenda.propose(db, cid, await link(cid, "1-1-101", 1), "Trees", scope="1-1", now=T0)).proposal
    assert p.state == "review"
    admin = Actor("telegram", "4242", "Group admin", room_admin_of=1)  # administers a bound room, no council seat
    with pytest.raises(NotEligible):
        await agenda.accept(db, p.id, admin, now=T0)
    assert (await agenda.accept(db, p.id, MODERATOR, now=T0)).state == "agenda"
