"""What the scheduler should hold, derived from the database (the source of truth).

Each job module hands over a *planner* (its ``wire``, called from bot.scheduler.jobs): given the
database and the current time, it returns the jobs that should exist for it. The scheduler service
reconciles APScheduler's persistent job store with the union of all plans at start-up,
periodically, and soon after ``replan()`` is called by a handler that changed something (a vote
opened, a digest was set).

Job functions are module-level coroutines named by ``func`` ("package.module:function", the
reference APScheduler stores, so it never changes for a job in use) with plain arguments; they
reach the database and translator through ``bot.scheduler.context.current()``. Every job must be
idempotent (guarded by a state change or an outbox dedupe key in the same transaction) and only
enqueue messages, never send them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.storage import Database


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """One job: ``run_at`` for a one-off (date trigger) or ``cron`` fields for a repeating one."""

    id: str  # stable and unique, e.g. "vote-close:12", "digest:3"
    func: str  # "bot.scheduler.deadlines:close_vote"
    args: tuple[Any, ...] = ()
    run_at: datetime | None = None
    cron: dict[str, Any] | None = field(default=None)  # CronTrigger fields, e.g. {"hour": 20, "minute": 0}
    misfire_grace_time: int = 3600  # seconds a late run is still worth doing (after a restart)

    def __post_init__(self) -> None:
        if (self.run_at is None) == (self.cron is None):
            raise ValueError("a planned job has exactly one of run_at or cron")


Planner = Callable[[Database, datetime], Awaitable[list[PlannedJob]]]
