"""What a running job can reach: set once by the process that runs the scheduler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo

from bot.i18n import Translator
from bot.storage import Database


@dataclass
class JobContext:
    db: Database
    i18n: Translator
    tz: tzinfo
    platform: str = "telegram"
    wake_outbox: Callable[[], None] = field(default=lambda: None)  # new rows: deliver them now
    replan: Callable[[], None] = field(default=lambda: None)  # state changed: reconcile jobs soon


_current: JobContext | None = None


def set_context(context: JobContext | None) -> None:
    global _current
    _current = context


def current() -> JobContext:
    if _current is None:
        raise RuntimeError("no job context: the scheduler is not running in this process")
    return _current
