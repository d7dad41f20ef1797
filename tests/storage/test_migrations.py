"""The Alembic revisions build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401
from bot.storage import Database
from bot.storage.migrate import head_revision, include_object


async def test_migrations_match_the_models(db: Database) -> None:
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(
            MigrationContext.configure(sync, opts={"include_object": include_object}), SQLModel.metadata))
        revision = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    assert diff == []
    assert revision == head_revision(db.url)
