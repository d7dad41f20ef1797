"""Verifying the hash chain."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.deliberation.ledger import Break, ChainLink, find_first_break
from bot.storage.uow import Database


async def _walk(db: Database, batch: int) -> AsyncIterator[ChainLink]:
    after = 0
    while True:
        async with db.uow(readonly=True) as uow:
            links = await uow.ledger.links(after=after, batch=batch)
        if not links:
            return
        for link in links:
            yield link
        after = links[-1].seq


async def verify_ledger(db: Database, batch: int = 2000) -> tuple[int, Break | None]:
    """Return how many entries were checked and the first broken one, if any."""
    links = [link async for link in _walk(db, batch)]
    async with db.uow(readonly=True) as uow:
        head = await uow.ledger.head()
    return len(links), find_first_break(links, head, db.keys.ledger)
