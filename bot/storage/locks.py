"""Locks held for a process's lifetime, freed by the kernel or the database when the process dies.

Used to elect the one process that runs the scheduler, and to tell a live process's outbox claims
from a dead one's. PostgreSQL: a session advisory lock on a dedicated connection; a SQLite file:
an exclusive ``flock`` on a file next to it; in-memory SQLite: only this process exists.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)


class ProcessLock:
    """A lock held for a process's lifetime; the operating system or the database frees it when we die."""

    async def acquire(self) -> bool:
        raise NotImplementedError

    async def alive(self) -> bool:
        return True

    async def release(self) -> None:
        pass


class AlwaysLock(ProcessLock):
    """In-memory SQLite: only this process can see the database."""

    async def acquire(self) -> bool:
        return True


class FileLock(ProcessLock):
    """SQLite file: an exclusive flock on a file next to the database, freed by the kernel when we die."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        self._fd = fd
        return True

    async def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class AdvisoryLock(ProcessLock):
    """PostgreSQL: a session advisory lock held by one dedicated connection for the process's life."""

    def __init__(self, database_url: str, key: int) -> None:
        self.key = key
        self._engine = create_async_engine(database_url, poolclass=NullPool)
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = await self._engine.connect()
        try:
            got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}))
            await conn.commit()  # the lock is the session's, not the transaction's
        except Exception:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def alive(self) -> bool:
        if self._conn is None:
            return False
        try:
            await self._conn.scalar(text("SELECT 1"))
            await self._conn.commit()
            return True
        except Exception:  # noqa: BLE001 - a lost connection means a lost lock
            log.warning("the connection holding advisory lock %s was lost", self.key)
            await self.release()
            return False

    async def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()  # ending the session frees the lock
            self._conn = None

    async def dispose(self) -> None:
        await self.release()
        await self._engine.dispose()


def process_lock(database_url: str, key: int, *, suffix: str) -> ProcessLock:
    """An advisory lock ``key`` on PostgreSQL, a flock on ``<database><suffix>`` for a SQLite file."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(database_url, key)
    if not url.database or url.database == ":memory:":
        return AlwaysLock()
    return FileLock(Path(f"{url.database}{suffix}"))


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a name (e.g. a process's boot id)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def advisory_lock_free(conn: AsyncConnection, key: int) -> bool:
    """True when nobody holds advisory lock ``key`` (its holder's session, i.e. process, is gone)."""
    if await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}):
        await conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return True
    return False
