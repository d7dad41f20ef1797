"""`yishi backup` and `yishi restore` as a user runs them: a community with ballots survives the round trip."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.deliberation.scope import Scope
from bot.services import agenda, voting
from bot.services.census import import_census, issue_codes, redeem_code
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.rooms import bind_room
from bot.storage import Database
from bot.storage.backup import BackupError, backup, restore
from bot.storage.engine import is_sqlite
from bot.storage.keys import resolve_keys
from bot.storage.models import Community
from tests.cli.test_cli import yishi

# The keys live outside the database: the same ones must come with a restore (set here for every command).
KEYS = {"LEDGER_KEY": "k" * 40, "BALLOT_SECRET_KEY": "s" * 40}


async def _community_with_ballots(url: str, census: str) -> None:
    db = Database(url, keys=resolve_keys(url, KEYS["LEDGER_KEY"], KEYS["BALLOT_SECRET_KEY"]))
    try:
        await import_census(db, "幸福里", census)
        codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, "幸福里", "3-2")}
        owners = {"1": "3-2-101", "2": "3-2-201", "3": "3-2-301"}
        for user, home in owners.items():
            await redeem_code(db, "telegram", user, codes[home])
        await add_council_member(db, "幸福里", "telegram", "9")
        moderator = Actor("telegram", "9")
        async with db.uow() as uow:
            row = (await uow.session.execute(select(Community))).scalar_one()
            row.support_fixed = 1
            community_id = row.id
        assert community_id is not None
        await bind_room(db, "telegram", "-100", "3-2", community_id, Scope.parse("3-2"), moderator)
        proposal = (await agenda.propose(db, community_id, Actor("telegram", "1"), "Elevator", scope="3-2",
                                         category="elevator")).proposal
        await agenda.accept(db, proposal.id, moderator)
        vote = await voting.open_vote(db, proposal.id, moderator, "elevator", 7)
        for user, choice in (("1", "yes"), ("2", "no"), ("3", "yes"), ("1", "abstain")):  # 1 changes their mind
            await voting.cast_ballot(db, vote.id, Actor("telegram", user), choice)
    finally:
        await db.dispose()


def _round_trip(tmp_path: Path, source_url: str, target_url: str) -> None:
    backup_file = tmp_path / "yishi.backup"
    made = yishi(tmp_path, "backup", "-o", str(backup_file), DATABASE_URL=source_url, **KEYS)
    assert made.returncode == 0, made.stderr
    assert "Keep LEDGER_KEY and BALLOT_SECRET_KEY" in made.stdout

    restored = yishi(tmp_path, "restore", str(backup_file), DATABASE_URL=target_url, **KEYS)
    assert restored.returncode == 0, restored.stderr
    verified = yishi(tmp_path, "ledger", "verify", DATABASE_URL=target_url, **KEYS)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("Ledger OK:")
    exports = [yishi(tmp_path, "export", "--format", "json", DATABASE_URL=url, **KEYS)
               for url in (source_url, target_url)]
    assert exports[0].returncode == 0 and '"Elevator"' in exports[0].stdout
    assert exports[0].stdout == exports[1].stdout

    # In process from here (each CLI run costs seconds): a backup never overwrites a file; the target is in
    # use now, so a second restore is refused and changes nothing, unless forced.
    with pytest.raises(BackupError, match="exists"):
        backup(source_url, backup_file)
    with pytest.raises(BackupError, match="not empty; add --force"):
        restore(target_url, backup_file)
    restore(target_url, backup_file, force=True)


def test_sqlite_backup_restores_into_a_fresh_database(tmp_path: Path, database_url: str,
                                                      sample_census_text: str) -> None:
    if not is_sqlite(database_url):
        pytest.skip("the SQLite round trip (the PostgreSQL one is below)")
    asyncio.run(_community_with_ballots(database_url, sample_census_text))
    _round_trip(tmp_path, database_url, f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'yishi.db'}")


def test_restore_refuses_a_file_that_is_no_backup(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database", encoding="utf-8")
    with pytest.raises(BackupError, match="is not a SQLite backup"):
        restore(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", junk)
    assert not (tmp_path / "x.db").exists()


@pytest.mark.postgres
def test_postgres_backup_restores_into_a_fresh_database(tmp_path: Path, database_url: str,
                                                        sample_census_text: str) -> None:
    if is_sqlite(database_url):
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    fresh = f"yishi_restore_{secrets.token_hex(4)}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def create_or_drop(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(_community_with_ballots(database_url, sample_census_text))
    asyncio.run(create_or_drop(f'CREATE DATABASE "{fresh}"'))
    try:
        _round_trip(tmp_path, database_url, url.set(database=fresh).render_as_string(hide_password=False))
    finally:
        asyncio.run(create_or_drop(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
