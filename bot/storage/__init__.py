"""Storage: SQLModel tables, async engines, Alembic migrations, unit of work."""

from bot.storage.uow import Database, UnitOfWork

__all__ = ["Database", "UnitOfWork"]
