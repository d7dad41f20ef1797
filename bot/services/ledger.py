"""Verifying the keyed hash chain, the rows it covers, and a head the council kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bot.deliberation.ledger import Break, ChainLink, find_first_break
from bot.services import audit
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


@dataclass
class Verification:
    checked: int
    broken: Break | None
    problems: list[str] = field(default_factory=list)  # rows that differ from the ledger, a missing kept head

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.problems


async def verify_all(db: Database, kept_head: str | None = None, batch: int = 2000) -> Verification:
    """The chain under LEDGER_KEY, every ballot, result and registration row against it, and (if given)
    a head the council kept, which must be an entry of this chain (``HASH`` or ``SEQ:HASH``)."""
    links = [link async for link in _walk(db, batch)]
    async with db.uow(readonly=True) as uow:
        head = await uow.ledger.head()
        problems = await audit.row_problems(uow)
    report = Verification(len(links), find_first_break(links, head, db.keys.ledger), problems)
    if kept_head:
        seq_text, _, digest = kept_head.strip().rpartition(":")
        found = [link for link in links if link.hash == digest.lower()]
        if not found or (seq_text and str(found[0].seq) != seq_text.lstrip("#")):
            report.problems.append(f"the kept head {kept_head} is not in this ledger (rewritten or cut back)")
    return report
