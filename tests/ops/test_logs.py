"""`yishi run`'s log, as a process prints it: one line per update, no library chatter, text or JSON."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from bot.fakeapi import FakeTelegram


async def _run(tmp_path: Path, transport: str, **settings: str) -> str:
    """Start `yishi run` on the fake Bot API, send /start, stop it with Ctrl-C; its whole output."""
    async with FakeTelegram.running() as fake:
        fake.add_bot("123456:log-token", "yishi_bot")
        fake.add_user(42, "Resident", language_code="en")
        fake.add_private_chat(42)
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LOG_LEVEL", "LOG_FORMAT"}}
        env.update(BOT_TOKEN="123456:log-token", TELEGRAM_API_BASE=fake.api_base, TRANSPORT=transport, WEB_PORT="0",
                   **settings)
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
                                                       stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT)
        try:
            await fake.wait_for(lambda: bool(fake.commands(scope={"type": "all_private_chats"}, language_code="en")),
                                timeout=60)
            sent = fake.send_text(42, 42, "/start")
            await fake.wait_for_message(42, after=sent.message_id, timeout=30)
            await asyncio.sleep(0.3)  # the log line follows the handler's return, a moment after the reply
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, output.decode()[-2000:]
        return output.decode()


@pytest.mark.parametrize("transport", ["aiogram", "ptb"])
async def test_text_log_has_one_line_per_update_and_no_library_chatter(tmp_path: Path, transport: str) -> None:
    output = await _run(tmp_path, transport)
    updates = re.findall(r" INFO bot\.updates: update (\d+) (\w+) \(IncomingMessage\) in \d+ ms$", output, re.M)
    assert len(updates) == 1 and updates[0][1] == "handled", output
    assert "Yishi is running on" in output
    # Alembic's migration steps and APScheduler's job lines are held at WARNING at the default INFO.
    assert not re.search(r" (INFO|DEBUG) (alembic|apscheduler)", output), output


async def test_json_log_is_one_object_per_line(tmp_path: Path) -> None:
    output = await _run(tmp_path, "ptb", LOG_FORMAT="json", LOG_LEVEL="info")
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line parses
    updates = [line for line in lines if line["logger"] == "bot.updates"]
    assert len(updates) == 1, output
    update = updates[0]
    assert update["outcome"] == "handled" and update["event"] == "IncomingMessage" and update["level"] == "INFO"
    assert isinstance(update["update_id"], int) and update["message"].startswith(f"update {update['update_id']} ")
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert not any(line["logger"].startswith(("alembic", "apscheduler")) and line["level"] == "INFO"
                   for line in lines)
