"""Keys outside the database: from the settings, else generated once into keys.env beside SQLite."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.storage.keys import resolve_keys


def test_unset_keys_are_generated_once_into_a_private_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("LEDGER_KEY", raising=False)
    monkeypatch.delenv("BALLOT_SECRET_KEY", raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path}/data/yishi.db"
    first = resolve_keys(url)
    path = tmp_path / "data" / "keys.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in caplog.text and "back it up" in caplog.text
    assert resolve_keys(url) == first and first.ledger != first.ballots and len(first.ledger) == 64
    # A key given in the settings wins; the other still comes from the file.
    given = resolve_keys(url, ledger_key="x" * 40)
    assert given.ledger == b"x" * 40 and given.ballots == first.ballots
    with pytest.raises(ValueError, match="LEDGER_KEY must be at least 32"):
        resolve_keys(url, ledger_key="short")
