"""Backing up and restoring the whole database: ``yishi backup`` and ``yishi restore``.

SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot while the bot
may be writing (WAL), page by page, into a new file. PostgreSQL: ``pg_dump --format=custom`` and
``pg_restore``, the server's own tools, which must be on PATH (their version at least the server's).

The keys are not in the database (bot/storage/keys.py): a backup without LEDGER_KEY and BALLOT_SECRET_KEY
(or ``keys.env``) cannot be verified, and its secret ballots cannot be opened.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from bot.storage.engine import create_engine, is_sqlite

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"  # pg_dump's custom format
# Tables whose rows do not make a database "in use": the schema's version and the scheduler's own jobs.
BOOKKEEPING = frozenset({"alembic_version", "apscheduler_jobs"})


class BackupError(Exception):
    """Backup or restore refused or failed; the message says why in one line."""


def backup(database_url: str, target: Path) -> None:
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file (a backup never overwrites one)")
    if is_sqlite(database_url):
        source = _sqlite_path(database_url)
        if not source.exists():
            raise BackupError(f"no database at {source}")
        _sqlite_copy(source, target)
        return
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", f"--dbname={_libpq(database_url)}"],
         database_url)


def restore(database_url: str, source: Path, *, force: bool = False) -> None:
    head = source.read_bytes()[:16] if source.is_file() else b""
    if is_sqlite(database_url):
        if not head.startswith(SQLITE_MAGIC):
            raise BackupError(f"{source} is not a SQLite backup (for this SQLite DATABASE_URL)")
        target = _sqlite_path(database_url)
        if not force and target.exists() and _sqlite_in_use(target):
            raise BackupError(f"the database at {target} is not empty; add --force to replace it")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source, target)
        return
    if not head.startswith(PGDUMP_MAGIC):
        raise BackupError(f"{source} is not a pg_dump custom-format backup (for this PostgreSQL DATABASE_URL)")
    tool = _tool("pg_restore")
    if not force and asyncio.run(_postgres_in_use(database_url)):
        raise BackupError("the database in DATABASE_URL is not empty; add --force to replace it")
    _run([tool, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
          f"--dbname={_libpq(database_url)}", str(source)], database_url)


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("DATABASE_URL names no SQLite file")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent snapshot through SQLite's online backup API (readers and writers may go on)."""
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")  # as the bot opens it
        finally:
            dst.close()
    finally:
        src.close()


def _sqlite_in_use(path: Path) -> bool:
    connection = sqlite3.connect(path)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return any(connection.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone()
                   for name in tables if name not in BOOKKEEPING and not name.startswith("sqlite_"))
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database ({exc})") from None
    finally:
        connection.close()


async def _postgres_in_use(database_url: str) -> bool:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            for name in tables:
                if name not in BOOKKEEPING and (await connection.execute(
                        text(f'SELECT 1 FROM "{name}" LIMIT 1'))).first() is not None:
                    return True
        return False
    except Exception as exc:  # noqa: BLE001 - refused, bad credentials: one line saying so
        raise BackupError(f"cannot reach the database in DATABASE_URL: {exc.__class__.__name__}: {exc}") from None
    finally:
        await engine.dispose()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools (e.g. apt install "
                          f"postgresql-client, the server's major version or newer)")
    return found


def _libpq(database_url: str) -> str:
    """The URL libpq's tools understand: no SQLAlchemy driver name, no password (PGPASSWORD carries it)."""
    return make_url(database_url).set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run(command: list[str], database_url: str) -> None:
    # The password goes in the environment, not on the command line where `ps` shows it.
    password = make_url(database_url).password
    env = {**os.environ, **({"PGPASSWORD": str(password)} if password else {})}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        name = Path(command[0]).name
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{name} failed (exit {result.returncode}): {detail}")
