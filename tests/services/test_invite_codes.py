from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.services.census import CodeInvalid, hash_code, issue_codes, redeem_code
from bot.storage import Database
from bot.storage.models import InviteCode, MemberLink


async def test_one_code_per_home_stored_only_as_a_hash(db: Database, community: str) -> None:
    codes = await issue_codes(db, community)
    assert len(codes) == 144 and len({c.code for c in codes}) == 144
    assert (codes[0].building, codes[0].unit, codes[0].room) == ("1", "1", "101")
    async with db.uow() as uow:
        hashes = set((await uow.session.execute(select(InviteCode.code_hash))).scalars())
    assert hash_code(codes[0].code) in hashes
    assert not any(c.code in hashes or c.code.replace("-", "") in hashes for c in codes)


async def test_scope_limits_the_codes(db: Database, community: str) -> None:
    codes = await issue_codes(db, community, "3-2")
    assert len(codes) == 12 and {(c.building, c.unit) for c in codes} == {("3", "2")}


async def test_a_code_links_its_member_as_verified_owner_once(db: Database, community: str) -> None:
    code = next(c for c in await issue_codes(db, community, "3-2") if c.room == "501")
    linked = await redeem_code(db, "telegram", "5001", code.code.lower().replace("-", " "), "Wang")
    assert (linked.building, linked.unit, linked.room) == ("3", "2", "501")
    async with db.uow() as uow:
        link = (await uow.session.execute(select(MemberLink))).scalar_one()
    assert (link.role, link.status, link.via) == ("owner", "verified", "code")
    with pytest.raises(CodeInvalid):
        await redeem_code(db, "telegram", "5002", code.code)


async def test_a_new_issue_replaces_the_unused_code(db: Database, community: str) -> None:
    first = {(c.room): c.code for c in await issue_codes(db, community, "1-1")}
    used = await redeem_code(db, "telegram", "7", first["101"])
    second = {(c.room): c.code for c in await issue_codes(db, community, "1-1")}
    with pytest.raises(CodeInvalid):
        await redeem_code(db, "telegram", "8", first["102"])  # replaced
    await redeem_code(db, "telegram", "8", second["102"])
    assert used.room == "101"


async def test_two_members_racing_for_one_code_only_one_wins(db: Database, community: str) -> None:
    code = (await issue_codes(db, community, "2-1"))[0].code
    results = await asyncio.gather(*(redeem_code(db, "telegram", str(100 + i), code) for i in range(5)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, CodeInvalid) for r in results if isinstance(r, BaseException))


async def test_malformed_code_is_refused(db: Database, community: str) -> None:
    from bot.deliberation.errors import InvalidInput

    with pytest.raises(InvalidInput):
        await redeem_code(db, "telegram", "1", "abc")
    with pytest.raises(CodeInvalid):
        await redeem_code(db, "telegram", "1", "AAAA-AAAA")
