"""The two secrets kept outside the database: the ledger's HMAC key and the ballot-sealing key.

``LEDGER_KEY`` keys the hash chain (nobody without it can re-chain an edited ledger) and
``BALLOT_SECRET_KEY`` seals secret ballots. When they are not set, they are generated once into a
key file next to the SQLite database (``data/keys.env``, mode 0600): an operator must back that file
up and keep it apart from the database, or secret ballots cannot be counted and the ledger cannot
be verified.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
NAMES = ("LEDGER_KEY", "BALLOT_SECRET_KEY")
MIN_LENGTH = 32


@dataclass(frozen=True, slots=True)
class Keys:
    ledger: bytes
    ballots: bytes


def key_file(database_url: str) -> Path:
    """Where generated keys live: beside the SQLite file, else ./data/keys.env."""
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix) and database_url[len(prefix):] not in ("", ":memory:"):
        return Path(database_url[len(prefix):]).parent / "keys.env"
    return Path("data") / "keys.env"


def _read(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() in NAMES:
            values[name.strip()] = value.strip()
    return values


def resolve_keys(database_url: str, ledger_key: str | None = None, ballot_key: str | None = None) -> Keys:
    """The keys from the settings (or the environment), else from the key file, generated there once."""
    given = {"LEDGER_KEY": ledger_key or os.environ.get("LEDGER_KEY") or "",
             "BALLOT_SECRET_KEY": ballot_key or os.environ.get("BALLOT_SECRET_KEY") or ""}
    if not all(given.values()):
        path = key_file(database_url)
        stored = _read(path) if path.exists() else {}
        missing = [name for name in NAMES if not given[name] and not stored.get(name)]
        if missing:
            for name in missing:
                stored[name] = secrets.token_hex(32)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write("# Yishi's keys: back this file up and keep it apart from the database.\n")
                out.writelines(f"{name}={stored[name]}\n" for name in NAMES if stored.get(name))
            os.chmod(path, 0o600)
            log.warning("Generated %s into %s: back it up and keep it apart from the database",
                        ", ".join(missing), path.resolve())
        for name in NAMES:
            given[name] = given[name] or stored[name]
    for name, value in given.items():
        if len(value) < MIN_LENGTH:
            raise ValueError(f"{name} must be at least {MIN_LENGTH} characters")
    return Keys(given["LEDGER_KEY"].encode(), given["BALLOT_SECRET_KEY"].encode())
