from __future__ import annotations

import asyncio

from sqlalchemy import text

from bot.deliberation.ledger import GENESIS_HASH
from bot.services.ledger import verify_ledger
from bot.storage import Database


async def _append(db: Database, n: int) -> None:
    for i in range(n):
        async with db.uow() as uow:
            await uow.ledger.append("test_event", f"thing:{i}", {"i": i, "name": "电梯"})


async def test_empty_ledger_verifies(db: Database) -> None:
    assert await verify_ledger(db) == (0, None)


async def test_chain_links_each_entry_to_the_previous(db: Database) -> None:
    await _append(db, 5)
    checked, broken = await verify_ledger(db)
    assert (checked, broken) == (5, None)
    async with db.uow() as uow:
        links = await uow.ledger.links()
    assert links[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(links, links[1:], strict=False))


async def test_verify_catches_a_row_edited_behind_its_back(db: Database) -> None:
    await _append(db, 6)
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE ledger_entry SET payload = :p WHERE seq = 4"), {"p": '{"i":99}'})
    checked, broken = await verify_ledger(db)
    assert broken is not None and broken.seq == 4 and broken.reason == "hash"


async def test_verify_catches_a_rehashed_entry_by_the_next_link(db: Database) -> None:
    """Recomputing the edited entry's own hash does not help: the next entry points at the old one."""
    from bot.deliberation.ledger import entry_hash

    await _append(db, 4)
    async with db.uow() as uow:
        links = await uow.ledger.links()
    forged = links[1]
    new_payload = '{"forged":true}'
    new_hash = entry_hash(forged.prev_hash, forged.seq, forged.at, forged.event, forged.subject, new_payload,
                          db.keys.ledger)
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE ledger_entry SET payload = :p, hash = :h WHERE seq = 2"),
                           {"p": new_payload, "h": new_hash})
    _, broken = await verify_ledger(db)
    assert broken is not None and broken.seq == 3 and broken.reason == "prev_hash"


async def test_verify_catches_deleted_entries(db: Database) -> None:
    await _append(db, 4)
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM ledger_entry WHERE seq = 4"))
    _, broken = await verify_ledger(db)
    assert broken is not None and broken.seq == 4 and broken.reason == "truncated"
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM ledger_entry WHERE seq = 2"))
    _, broken = await verify_ledger(db)
    assert broken is not None and broken.seq == 2 and broken.reason == "sequence"


async def test_concurrent_appends_form_one_chain(db: Database) -> None:
    async def one(i: int) -> None:
        async with db.uow() as uow:
            await uow.ledger.append("race", f"r:{i}", {"i": i})

    await asyncio.gather(*(one(i) for i in range(30)))
    checked, broken = await verify_ledger(db)
    assert (checked, broken) == (30, None)


async def test_rolled_back_work_leaves_no_entry(db: Database) -> None:
    try:
        async with db.uow() as uow:
            await uow.ledger.append("doomed", "x", {})
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    await _append(db, 1)
    assert await verify_ledger(db) == (1, None)
