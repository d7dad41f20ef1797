"""Chinese keywords cannot be used to slip past what the slash commands enforce, on both runtimes."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.storage.models import Community, Objection, Proposal, Support
from tests.e2e.conftest import GROUP, MODERATOR, OTHER_GROUP, OWNERS, TENANT, World
from tests.e2e.test_words import _proposal, _setup, _until, act, answer, quiet


async def _supports(w: World) -> int:
    async with w.db.uow(readonly=True) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(Support))).scalar_one())


async def test_keywords_obey_the_same_rules_as_commands(world: World) -> None:
    w = world
    await _setup(w, ("101", "102"), support=3)
    async with w.db.uow() as uow:
        (await uow.session.execute(select(Community))).scalar_one().support_fixed = 3
    await act(w, OWNERS["101"], GROUP, "提议 楼道灯坏了", _proposal(1, state="collecting"))
    # Addressed to another bot: not ours to handle, with or without a known keyword.
    await quiet(w, OWNERS["102"], GROUP, ["/附议@other_bot 1", "附议@yishi_bot 1"])
    assert await _supports(w) == 1
    # A moderator's keyword from a resident is refused like the command, and changes nothing.
    assert "Only moderators" in await answer(w, OWNERS["102"], GROUP, "受理 1")
    assert "Only moderators" in await answer(w, OWNERS["102"], GROUP, "/异议 1 3-2-101 采光")
    async with w.db.uow(readonly=True) as uow:
        assert (await uow.session.get(Proposal, 1)).state == "collecting"  # type: ignore[union-attr]
        assert (await uow.session.execute(select(func.count()).select_from(Objection))).scalar_one() == 0
    # Someone without a home in scope cannot co-sign by keyword either.
    assert "Register first" in await answer(w, TENANT, GROUP, "附议 1")
    assert await _supports(w) == 1
    # In an unbound room a keyword does nothing but say so.
    assert "not bound" in await answer(w, TENANT, OTHER_GROUP, "提议 新长椅")
    async with w.db.uow(readonly=True) as uow:
        assert (await uow.session.execute(select(func.count()).select_from(Proposal))).scalar_one() == 1
    await act(w, OWNERS["102"], GROUP, "附议 1", _at_least_supports(2))
    await _until(w, _proposal(1, state="collecting"), "still collecting")


def _at_least_supports(n: int):  # type: ignore[no-untyped-def]
    async def check(session):  # type: ignore[no-untyped-def]
        return (await session.execute(select(func.count()).select_from(Support))).scalar_one() >= n

    return check


async def test_a_moderator_keyword_in_private_is_checked_like_the_command(world: World) -> None:
    w = world
    await _setup(w, ("101",), support=1)
    # A resident's private "pending" keyword: refused, no list of other people's requests.
    assert "Only moderators" in await answer(w, OWNERS["101"], OWNERS["101"], "待审核")
    assert await answer(w, MODERATOR, MODERATOR, "/待审核")
