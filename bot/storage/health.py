"""Is the database there: the web server's /healthz asks."""

from __future__ import annotations

from sqlalchemy import text

from bot.storage.uow import Database


async def reachable(db: Database) -> bool:
    """One round trip (``SELECT 1``); False on any failure to connect or answer."""
    try:
        async with db.uow(readonly=True) as uow:
            await uow.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - refused, timed out, bad credentials, locked file: all "not reachable"
        return False
    return True
