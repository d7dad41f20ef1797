"""Where APScheduler keeps its jobs: the bot's own database, reached through a synchronous driver."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

from bot.storage.engine import is_sqlite


def sync_url(database_url: str) -> str:
    """The synchronous URL of the same database for APScheduler's job store."""
    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        return url.set(drivername="sqlite").render_as_string(hide_password=False)
    if url.drivername.startswith("postgresql"):
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"no synchronous driver for {url.drivername}")


def engine_options(database_url: str) -> dict[str, Any]:
    """Options of the job store's synchronous engine."""
    if is_sqlite(database_url):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}
