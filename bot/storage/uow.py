"""Database handle and the unit of work: one transaction per use case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import func, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import SQLModel, col

from bot.deliberation.errors import NotFound
from bot.deliberation.ledger import GENESIS_HASH, KEYED, ChainLink, canonical_json, entry_hash, find_first_break
from bot.deliberation.text import optional_text
from bot.storage.engine import READONLY, create_engine
from bot.storage.handling import mark_handled_in
from bot.storage.keys import Keys, resolve_keys
from bot.storage.models import LedgerEntry, LedgerHead, Member, utcnow

M = TypeVar("M", bound=SQLModel)


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """The rows an UPDATE, DELETE or INSERT matched.

    ``AsyncSession.execute`` is typed to return a ``Result``; for those statements it is a ``CursorResult``.
    """
    assert isinstance(result, CursorResult)
    return result.rowcount


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str, engine: AsyncEngine | None = None, keys: Keys | None = None) -> None:
        self.url = url
        self.keys = keys or resolve_keys(url)
        self.engine = engine or create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    def uow(self, *, readonly: bool = False) -> UnitOfWork:
        """A unit of work; ``readonly`` ones never write and, on SQLite, do not queue behind writers."""
        return UnitOfWork(self, readonly=readonly)

    async def dispose(self) -> None:
        await self.engine.dispose()


class UnitOfWork:
    """``async with db.uow() as uow:`` commits on success and rolls back on any exception."""

    session: AsyncSession
    ledger: LedgerRepository

    def __init__(self, db: Database, *, readonly: bool = False) -> None:
        self._db = db
        self._readonly = readonly

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._db.sessions()
        await self.session.begin()
        if self._readonly:
            await self.session.connection(execution_options={READONLY: True})
        self.ledger = LedgerRepository(self.session, self._db.keys.ledger)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is not None:
                await self.session.rollback()
            elif not self._readonly:
                await self.session.commit()
            # A read-only unit just closes: that ends its transaction and keeps loaded objects usable.
        finally:
            await self.session.close()

    @property
    def keys(self) -> Keys:
        return self._db.keys

    @property
    def dialect(self) -> str:
        bind = self.session.bind
        assert bind is not None  # every unit's session is made bound to the database's engine
        return bind.dialect.name

    async def flush(self) -> None:
        """Write pending changes now, so that queries later in this unit read them back."""
        await self.session.flush()

    async def insert_ignore(self, model: type[SQLModel], values: dict[str, Any], conflict: Sequence[str]) -> bool:
        """INSERT unless a row with the same unique key exists; True if a row was inserted.

        Used where Telegram may redeliver or two workers may race: the database, not a
        prior SELECT, decides who was first.
        """
        table = inspect(model).local_table
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = dialect_insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
        result = await self.session.execute(statement)
        return bool(rowcount(result))

    async def get(self, model: type[M], key: int, *, what: str, lock: bool = False) -> M:
        """The row with this id (locked for update if asked), or NotFound naming ``what``."""
        query = select(model).where(inspect(model).columns["id"] == key)
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no {what} #{key}", what=what, id=key)
        return row

    async def member(self, platform: str, external_id: str, display_name: str = "") -> Member:
        """The chat member with this identity, created on first sight."""
        # Shown to moderators (/pending): no control, bidi or zero-width characters.
        display_name = optional_text(display_name, max_length=200)
        await self.insert_ignore(
            Member,
            {"platform": platform, "external_id": external_id, "display_name": display_name[:200],
             "created_at": utcnow(), "reachable": True, "nudges": True},
            ("platform", "external_id"),
        )
        member = (
            await self.session.execute(
                select(Member).where(col(Member.platform) == platform, col(Member.external_id) == external_id)
            )
        ).scalar_one()
        if display_name and member.display_name != display_name[:200]:
            member.display_name = display_name[:200]
        return member


class LedgerError(Exception):
    """The ledger cannot be re-keyed because it is already broken."""


@dataclass(frozen=True, slots=True)
class Appended:
    seq: int
    hash: str


class LedgerRepository:
    """Append-only access to the hash chain, keyed with LEDGER_KEY."""

    def __init__(self, session: AsyncSession, key: bytes) -> None:
        self._session = session
        self._key = key

    async def append(self, event: str, subject: str, payload: dict[str, Any], at: datetime | None = None) -> Appended:
        return (await self.append_many([(event, subject, payload, at or utcnow())]))[0]

    async def append_many(self, events: Sequence[tuple[str, str, dict[str, Any], datetime]]) -> list[Appended]:
        """Append events in order, in the caller's transaction, with one round trip to the tip."""
        if not events:
            return []
        await mark_handled_in(self._session)  # a command's update is handled with its first state change
        # Bumping the head row takes its row lock (PostgreSQL) or the write lock (SQLite),
        # so concurrent appenders line up and each sees the previous tip.
        head = (
            await self._session.execute(
                update(LedgerHead)
                .where(col(LedgerHead.id) == 1)
                .values(seq=col(LedgerHead.seq) + len(events))
                .returning(col(LedgerHead.seq), col(LedgerHead.hash), col(LedgerHead.scheme))
            )
        ).one()
        seq, prev_hash = int(head[0]) - len(events), str(head[1])
        if head[2] != KEYED:
            prev_hash = await self.rekey(upto=seq)
            seq += 1  # after the ledger_keyed entry
        rows, appended = [], []
        for event, subject, payload, when in events:
            seq += 1
            body = canonical_json(payload)
            digest = entry_hash(prev_hash, seq, when, event, subject, body, self._key)
            rows.append({"seq": seq, "at": when, "event": event, "subject": subject, "payload": body,
                         "prev_hash": prev_hash, "hash": digest})
            appended.append(Appended(seq, digest))
            prev_hash = digest
        await self._session.execute(insert(LedgerEntry), rows)
        await self._session.execute(
            update(LedgerHead).where(col(LedgerHead.id) == 1).values(hash=prev_hash)
        )
        return appended

    async def rekey(self, upto: int | None = None) -> str:
        """Re-chain a ledger from before LEDGER_KEY under the key, once; returns the new tip's hash.

        The plain SHA-256 chain is checked first (an already broken ledger is not laundered), the
        entries are re-hashed in place, and a ``ledger_keyed`` entry records the former head, which the
        council may compare with a head it kept.
        """
        head = (await self._session.execute(
            select(col(LedgerHead.seq), col(LedgerHead.hash), col(LedgerHead.scheme)).with_for_update())).one()
        last = int(head[0]) if upto is None else upto
        links = await self.links(0, batch=max(last, 1))
        if head[2] == KEYED:
            return links[-1].hash if links else GENESIS_HASH
        broken = find_first_break(links, {"seq": last, "hash": links[-1].hash if links else GENESIS_HASH})
        if broken is not None or (upto is None and (links[-1].hash if links else GENESIS_HASH) != head[1]):
            raise LedgerError(f"the ledger is broken at entry {broken.seq if broken else last}; not re-keyed")
        prev = GENESIS_HASH
        for link in links:
            digest = entry_hash(prev, link.seq, link.at, link.event, link.subject, link.payload, self._key)
            await self._session.execute(update(LedgerEntry).where(col(LedgerEntry.seq) == link.seq)
                                        .values(prev_hash=prev, hash=digest))
            prev = digest
        former = links[-1].hash if links else GENESIS_HASH
        seq = last + 1
        body = canonical_json({"former_head": {"seq": last, "hash": former}, "scheme": KEYED})
        at = utcnow()
        digest = entry_hash(prev, seq, at, "ledger_keyed", "ledger", body, self._key)
        await self._session.execute(insert(LedgerEntry), [{"seq": seq, "at": at, "event": "ledger_keyed",
                                                           "subject": "ledger", "payload": body,
                                                           "prev_hash": prev, "hash": digest}])
        # Entries being appended right now (``upto``) follow the re-key entry.
        extra = 0 if upto is None else int(head[0]) - upto
        await self._session.execute(update(LedgerHead).where(col(LedgerHead.id) == 1)
                                    .values(seq=seq + extra, hash=digest, scheme=KEYED))
        return digest

    async def links(self, after: int = 0, batch: int = 1000) -> list[ChainLink]:
        rows = (
            await self._session.execute(
                select(LedgerEntry).where(col(LedgerEntry.seq) > after).order_by(col(LedgerEntry.seq)).limit(batch)
            )
        ).scalars()
        return [ChainLink(r.seq, r.at, r.event, r.subject, r.payload, r.prev_hash, r.hash) for r in rows]

    async def head(self) -> dict[str, Any]:
        row = (await self._session.execute(
            select(col(LedgerHead.seq), col(LedgerHead.hash), col(LedgerHead.scheme)))).one()
        return {"seq": int(row[0]), "hash": str(row[1]), "scheme": str(row[2])}

    async def count(self, event: str | None = None, subject: str | None = None) -> int:
        query = select(func.count()).select_from(LedgerEntry)
        if event is not None:
            query = query.where(col(LedgerEntry.event) == event)
        if subject is not None:
            query = query.where(col(LedgerEntry.subject) == subject)
        return int((await self._session.execute(query)).scalar_one())

    async def for_subject(self, subject: str) -> list[LedgerEntry]:
        query = select(LedgerEntry).where(col(LedgerEntry.subject) == subject).order_by(col(LedgerEntry.seq))
        return list((await self._session.execute(query)).scalars())
