"""The inbox: every update stored before the platform is told it was received, and claimed once.

Telegram forgets an update once the bot confirms it (the next getUpdates offset, or a 2xx answer to
a webhook POST), so a row is written here first. The same row is the update's claim: a handler
either marks it handled in the transaction that records its result (ballot presses), or claims it
while it works and marks it handled at the end. A second delivery (a Telegram retry, a second
worker) then finds it claimed or handled. A claim left by a process that died is taken over:
on PostgreSQL each process holds an advisory "liveness" lock for its life, so a dead one's claims
are known at once; on SQLite only one process runs, so any other boot's claim is a dead one's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from bot.storage.locks import AdvisoryLock, advisory_lock_free, lock_key
from bot.storage.models import InboxUpdate, utcnow
from bot.storage.uow import Database, UnitOfWork, rowcount
from bot.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# Telegram keeps an update it could not deliver for 24 hours; after that it never comes again.
KEEP = timedelta(hours=24)
# An update stored but not claimed this long is taken by any process (its receiver is stuck or gone).
ORPHAN_AFTER = timedelta(seconds=30)
ANSWER_FLUSH = 0.5  # seconds: answered presses are marked in one write per this period


def bot_key(platform: str, token: str | None) -> str:
    """The inbox key of a bot: ``telegram:<bot id>`` (the digits before the token's colon)."""
    return f"{platform}:{(token or '0').split(':', 1)[0]}"


def liveness_key(boot_id: str) -> int:
    return lock_key(f"inbox:{boot_id}")


def _insert(uow: UnitOfWork) -> Callable[[type[InboxUpdate]], postgresql.Insert | sqlite.Insert]:
    return postgresql.insert if uow.dialect == "postgresql" else sqlite.insert


def _mine_or_free(claimer: str) -> ColumnElement[bool]:
    return and_(col(InboxUpdate.handled_at).is_(None),
                or_(col(InboxUpdate.claimed_by).is_(None), col(InboxUpdate.claimed_by) == claimer))


async def claim_handled(uow: UnitOfWork, keys: Iterable[tuple[str, int]], claimer: str) -> set[tuple[str, int]]:
    """Mark updates handled in the caller's transaction; returns the keys this call took.

    An update already handled, or claimed by another (live) process, is not returned: the caller
    says nothing about it. The mark commits with the caller's result or not at all.
    """
    now = utcnow()
    rows = [{"bot": bot, "update_id": update_id, "received_at": now, "claimed_by": claimer, "claimed_at": now,
             "handled_at": now} for bot, update_id in dict.fromkeys(keys)]
    if not rows:
        return set()
    statement = _insert(uow)(InboxUpdate).values(rows).on_conflict_do_update(
        index_elements=["bot", "update_id"],
        set_={"claimed_by": claimer, "claimed_at": now, "handled_at": now},
        where=_mine_or_free(claimer),
    ).returning(col(InboxUpdate.bot), col(InboxUpdate.update_id))
    return {(bot, int(update_id)) for bot, update_id in await uow.session.execute(statement)}


class Inbox:
    """One bot's inbox, as seen by one process (``boot_id``)."""

    def __init__(self, db: Database, boot_id: str, bot: str = "telegram:0") -> None:
        self.db = db
        self.boot_id = boot_id
        self.bot = bot  # set by the transport from the token
        self.shared = not db.url.startswith("sqlite")
        self._liveness: AdvisoryLock | None = None
        self._answered: set[int] = set()
        self._flusher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.shared and self._liveness is None:  # held while we live: our claims are not taken over
            self._liveness = AdvisoryLock(self.db.url, liveness_key(self.boot_id))
            await self._liveness.acquire()

    async def stop(self) -> None:
        """Write pending answer marks, and hand back claims still open so the next start takes them."""
        if self._flusher is not None:
            await cancel_and_wait([self._flusher])
            self._flusher = None
        await self.flush()
        async with self.db.uow() as uow:
            released = await uow.session.execute(
                update(InboxUpdate)
                .where(col(InboxUpdate.bot) == self.bot, col(InboxUpdate.claimed_by) == self.boot_id,
                       col(InboxUpdate.handled_at).is_(None))
                .values(claimed_by=None, claimed_at=None)
            )
        if rowcount(released):
            log.info("inbox: %s unfinished update(s) left for the next start", rowcount(released))
        if self._liveness is not None:
            await self._liveness.dispose()
            self._liveness = None

    # ------------------------------------------------------------------ receiving

    async def store(self, updates: Sequence[tuple[int, str, bool]]) -> None:
        """Store (update id, raw JSON, nothing to do) rows; a row already there is kept as it is."""
        if not updates:
            return
        now = utcnow()
        rows = [{"bot": self.bot, "update_id": update_id, "payload": payload, "received_at": now,
                 "handled_at": now if ignored else None, "answered_at": now if ignored else None}
                for update_id, payload, ignored in {u[0]: u for u in updates}.values()]
        async with self.db.uow() as uow:
            await uow.session.execute(
                _insert(uow)(InboxUpdate).values(rows).on_conflict_do_nothing(index_elements=["bot", "update_id"]))

    # ------------------------------------------------------------------ claiming

    async def claim(self, update_id: int) -> bool:
        """Claim an update to handle it: False if it was handled, or is in hand here or in a live process."""
        now = utcnow()
        async with self.db.uow() as uow:
            taken = await uow.session.execute(
                _insert(uow)(InboxUpdate)
                .values(bot=self.bot, update_id=update_id, received_at=now, claimed_by=self.boot_id, claimed_at=now)
                .on_conflict_do_update(
                    index_elements=["bot", "update_id"], set_={"claimed_by": self.boot_id, "claimed_at": now},
                    where=and_(col(InboxUpdate.handled_at).is_(None), col(InboxUpdate.claimed_by).is_(None)),
                )
                .returning(col(InboxUpdate.update_id))
            )
            if taken.first() is not None:
                return True
            row = (await uow.session.execute(
                select(col(InboxUpdate.claimed_by), col(InboxUpdate.handled_at))
                .where(col(InboxUpdate.bot) == self.bot, col(InboxUpdate.update_id) == update_id)
            )).first()
            if row is None or row.handled_at is not None or row.claimed_by in (None, self.boot_id):
                return False
            if not await self._dead(uow, [row.claimed_by]):
                return False  # another live process is handling it
            # Its claimer died with it in hand: take it over rather than lose it.
            over = await uow.session.execute(
                update(InboxUpdate)
                .where(col(InboxUpdate.bot) == self.bot, col(InboxUpdate.update_id) == update_id,
                       col(InboxUpdate.claimed_by) == row.claimed_by, col(InboxUpdate.handled_at).is_(None))
                .values(claimed_by=self.boot_id, claimed_at=now)
            )
            return bool(rowcount(over))

    async def finish(self, update_id: int) -> None:
        """Handled (and, as far as a press goes, answered): not handled again."""
        now = utcnow()
        async with self.db.uow() as uow:
            await uow.session.execute(
                update(InboxUpdate)
                .where(col(InboxUpdate.bot) == self.bot, col(InboxUpdate.update_id) == update_id)
                .values(handled_at=now, answered_at=now)
            )

    def answered(self, update_id: int) -> None:
        """The presser got their answer (a toast or a private message); written within ANSWER_FLUSH."""
        self._answered.add(update_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(ANSWER_FLUSH)
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - the marks stay pending; worst case a second confirmation
            log.warning("inbox: could not mark presses answered", exc_info=True)

    async def flush(self) -> None:
        ids, self._answered = sorted(self._answered), set()
        if not ids:
            return
        try:
            async with self.db.uow() as uow:
                await uow.session.execute(
                    update(InboxUpdate)
                    .where(col(InboxUpdate.bot) == self.bot, col(InboxUpdate.update_id).in_(ids))
                    .values(answered_at=utcnow())
                )
        except Exception:
            self._answered.update(ids)
            raise

    # ------------------------------------------------------------------ recovery

    async def unhandled(self, *, everything: bool = False) -> list[tuple[int, str]]:
        """Stored updates nobody alive is handling: claims of dead processes are freed first.

        ``everything``: also updates stored just now and not yet claimed (at start-up, where this
        process's predecessor stored them); otherwise only those older than ORPHAN_AFTER.
        """
        async with self.db.uow() as uow:
            await self._free_dead_claims(uow, col(InboxUpdate.handled_at).is_(None))
            query = select(col(InboxUpdate.update_id), col(InboxUpdate.payload)).where(
                col(InboxUpdate.bot) == self.bot, col(InboxUpdate.handled_at).is_(None),
                col(InboxUpdate.claimed_by).is_(None), col(InboxUpdate.payload).is_not(None))
            if not everything:
                query = query.where(col(InboxUpdate.received_at) <= utcnow() - ORPHAN_AFTER)
            rows = await uow.session.execute(query.order_by(col(InboxUpdate.update_id)))
            # The query already skips rows without a payload: the test only narrows the type.
            return [(int(update_id), payload) for update_id, payload in rows if payload is not None]

    async def unanswered(self) -> list[tuple[int, str]]:
        """Presses a dead process handled but may not have answered; claimed here to confirm them."""
        owed = and_(col(InboxUpdate.handled_at).is_not(None), col(InboxUpdate.answered_at).is_(None))
        async with self.db.uow() as uow:
            dead = await self._dead_claimers(uow, owed)
            if not dead:
                return []
            rows = await uow.session.execute(
                update(InboxUpdate)
                .where(col(InboxUpdate.bot) == self.bot, owed, col(InboxUpdate.claimed_by).in_(dead),
                       col(InboxUpdate.payload).is_not(None))
                .values(claimed_by=self.boot_id, claimed_at=utcnow())
                .returning(col(InboxUpdate.update_id), col(InboxUpdate.payload))
            )
            return sorted((int(update_id), payload) for update_id, payload in rows if payload is not None)

    async def purge(self, now: datetime | None = None) -> int:
        """Forget handled updates older than Telegram's redelivery window; returns how many."""
        cutoff = (now or utcnow()) - KEEP
        async with self.db.uow() as uow:
            gone = await uow.session.execute(
                delete(InboxUpdate).where(col(InboxUpdate.received_at) < cutoff,
                                          col(InboxUpdate.handled_at).is_not(None))
            )
        return rowcount(gone)

    async def _dead_claimers(self, uow: UnitOfWork, condition: ColumnElement[bool]) -> list[str]:
        claimers = (await uow.session.execute(
            select(col(InboxUpdate.claimed_by)).where(col(InboxUpdate.bot) == self.bot, condition,
                                                 col(InboxUpdate.claimed_by).is_not(None)).distinct()
        )).scalars().all()
        return await self._dead(uow, [c for c in claimers if c])

    async def _free_dead_claims(self, uow: UnitOfWork, condition: ColumnElement[bool]) -> None:
        dead = await self._dead_claimers(uow, condition)
        if dead:
            await uow.session.execute(
                update(InboxUpdate)
                .where(col(InboxUpdate.bot) == self.bot, condition, col(InboxUpdate.claimed_by).in_(dead))
                .values(claimed_by=None, claimed_at=None)
            )

    async def _dead(self, uow: UnitOfWork, claimers: list[str]) -> list[str]:
        others = [c for c in claimers if c != self.boot_id]
        if not self.shared or not others:
            return others  # SQLite: one process at a time, so another boot's claim is a dead one's
        connection = await uow.session.connection()
        return [c for c in others if await advisory_lock_free(connection, liveness_key(c))]
