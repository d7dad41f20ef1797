"""Following an adopted matter and evaluating it when done, end to end on both runtimes."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import agenda
from bot.services.directory import Actor
from bot.storage.models import Community, Proposal
from tests.e2e.conftest import MODERATOR, OUTSIDER, OWNERS, World


async def test_followers_hear_progress_and_households_evaluate(world: World) -> None:
    w = world
    for room in ("101", "102", "201"):
        await w.say(OWNERS[room], OWNERS[room], f"/register {w.codes['3-2-' + room]}")
    await w.say(OUTSIDER, OUTSIDER, f"/register {w.codes['3-1-101']}")
    async with w.db.uow(readonly=True) as uow:
        community_id = (await uow.session.execute(select(Community.id))).scalar_one()
    submitted = await agenda.propose(w.db, community_id, Actor("telegram", str(OWNERS["101"])), "Paint the stairwell",
                                     scope="3-2", force=True)
    assert submitted.proposal is not None
    async with w.db.uow() as uow:  # adopted by a vote elsewhere in the suite
        proposal = await uow.session.get(Proposal, submitted.proposal.id)
        assert proposal is not None
        proposal.state = "adopted"
    follow = await w.say(OWNERS["201"], OWNERS["201"], "/follow 1")
    assert "progress of #1" in follow.text
    await w.say(MODERATOR, MODERATOR, "/progress 1 Scaffolding is up")
    for room in ("101", "201"):  # the author co-signed implicitly; 201 asked
        await w.fake.wait_for_message(OWNERS[room], lambda m: m.from_bot and "Scaffolding" in (m.text or ""))
    await w.say(MODERATOR, MODERATOR, "/progress 1 done Painted white")
    asked = {}
    for room in ("101", "102", "201"):
        asked[room] = await w.fake.wait_for_message(
            OWNERS[room], lambda m: m.from_bot and "How satisfied" in (m.text or ""))
        assert asked[room].callback_data == ["v1:ev:1:s", "v1:ev:1:b", "v1:ev:1:u"]
    assert not any("Scaffolding" in (m.text or "") for m in w.fake.messages(OWNERS["102"]))
    assert not any("How satisfied" in (m.text or "") for m in w.fake.messages(OUTSIDER))
    assert "Thank you" in await w.press(OWNERS["101"], OWNERS["101"], asked["101"], "v1:ev:1:s")
    await w.press(OWNERS["102"], OWNERS["102"], asked["102"], "v1:ev:1:u")
    summary = await w.say(OWNERS["201"], OWNERS["201"], "/evaluation 1")
    assert "satisfied 1, basically satisfied 0, not satisfied 1 (50.00% satisfied of 2)" in summary.text
