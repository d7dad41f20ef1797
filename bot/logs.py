"""Logging of a running process: LOG_LEVEL and LOG_FORMAT (text lines, or one JSON object per line).

At INFO Yishi's own lines are shown and the libraries' chatter (Alembic's migration steps, APScheduler's
job additions, the HTTP clients) is held at WARNING, so `make run` shows the one line a new user needs
(the local room's URL). LOG_LEVEL=DEBUG shows everything.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Libraries whose INFO lines are noise to an operator: quieted to WARNING unless LOG_LEVEL=DEBUG.
CHATTY = ("alembic", "apscheduler", "aiogram", "telegram", "httpx", "httpcore", "aiohttp.access", "asyncio",
          "sqlalchemy", "aiosqlite", "asyncpg", "hpack")
# Attributes every LogRecord has; anything else was passed in ``extra=`` and goes into the JSON object.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once for the process (replaces any handler set before)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    quiet = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    for name in CHATTY:
        logging.getLogger(name).setLevel(quiet)
