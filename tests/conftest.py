"""Test databases: SQLite by default, PostgreSQL when TEST_DATABASE_URL points at one.

Each test gets an empty, migrated database: on SQLite a copy of a migrated template
file, on PostgreSQL the session's migrated database with every table truncated.
Under pytest-xdist every worker gets its own PostgreSQL database (``<name>_gw0``, ...), created here
and passed on to the processes tests start through TEST_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import URL, make_url, text

from bot.storage import Database
from bot.storage.migrate import upgrade

# Fixed keys for every test database (a real run generates them into keys.env or reads the settings).
os.environ.setdefault("LEDGER_KEY", "test-ledger-key-" + "0" * 32)
os.environ.setdefault("BALLOT_SECRET_KEY", "test-ballot-key-" + "1" * 32)

SAMPLE_CENSUS = Path(__file__).resolve().parent.parent / "data" / "sample" / "census-sample.csv"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


def _is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


async def _ensure_database(url: URL) -> None:
    server = await asyncpg.connect(user=url.username, password=url.password, host=url.host or "127.0.0.1",
                                   port=url.port or 5432, database="postgres")
    try:
        if not await server.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # another run created it meanwhile
                await server.execute(f'CREATE DATABASE "{url.database}"')
    finally:
        await server.close()


def _per_worker(url: str, worker: str) -> str:
    """This xdist worker's own database on the same server: tests truncate every table they use."""
    parsed = make_url(url)
    mine = parsed.set(database=f"{parsed.database}_{worker}")
    asyncio.run(_ensure_database(mine))
    return mine.render_as_string(hide_password=False)


_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _is_postgres(TEST_DATABASE_URL) and _WORKER:
    TEST_DATABASE_URL = _per_worker(TEST_DATABASE_URL, _WORKER)
    os.environ["TEST_DATABASE_URL"] = TEST_DATABASE_URL


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {'PostgreSQL ' + TEST_DATABASE_URL.split('@')[-1] if TEST_DATABASE_URL else 'SQLite'}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # CI sets this so a run against PostgreSQL cannot quietly degrade to SQLite.
    if os.environ.get("YISHI_REQUIRE_POSTGRES") and not _is_postgres(TEST_DATABASE_URL):
        session.exitstatus = 3


async def _truncate_all(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            tables = (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                         "AND tablename <> 'alembic_version'")
                )
            ).scalars().all()
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            await conn.execute(text("INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64})
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    if _is_postgres(TEST_DATABASE_URL):
        upgrade(TEST_DATABASE_URL)  # fails loudly if the server is missing: no silent skip
        return TEST_DATABASE_URL
    if TEST_DATABASE_URL:
        raise pytest.UsageError(f"TEST_DATABASE_URL must be a PostgreSQL URL, got {TEST_DATABASE_URL!r}")
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    if _is_postgres(database_template):
        asyncio.run(_truncate_all(database_template))
        yield database_template
        return
    target = tmp_path / "yishi.db"
    shutil.copyfile(database_template, target)
    yield f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def sample_census_text() -> str:
    return SAMPLE_CENSUS.read_text(encoding="utf-8")


@pytest.fixture
async def community(db: Database, sample_census_text: str) -> str:
    from bot.services.census import import_census

    await import_census(db, "幸福里", sample_census_text)
    return "幸福里"
