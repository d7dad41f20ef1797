"""A real `yishi run` in its own process, on either runtime, against the in-process fake Bot API.

What the in-process ``world`` fixture of tests/e2e cannot show: a process that is killed (SIGKILL),
stopped by SIGTERM, restarted on the same database, or run twice at once. The test process keeps
the fake Telegram server and its own connection to the bot's database; the bot is a child process
started exactly as an operator starts it (`python -m bot run`), so crashes are real.

Usage::

    async with live_bot(tmp_path, "aiogram", database_url) as bot:
        await bot.register_owners(["101", "102"])
        await bot.bind_group()
        reply = await bot.say(MODERATOR, GROUP, "/propose ...")
        await bot.kill()
        await bot.start()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.fakeapi import FakeTelegram
from bot.fakeapi.server import StoredMessage
from bot.services.census import import_census, issue_codes
from bot.services.council import add_council_member
from bot.storage import Database
from bot.storage.migrate import upgrade

SAMPLE_CENSUS = Path(__file__).resolve().parents[2] / "data" / "sample" / "census-sample.csv"
COMMUNITY = "幸福里"
TOKEN = "424242:live-token"
GROUP = -1003200  # the room of building unit 3-2
OTHER_GROUP = -1003100  # the room of building unit 3-1
MODERATOR = 9000  # on the council
ROOM_ADMIN = 9100  # a Telegram admin of both rooms, not on the council
TENANT = 5000
OUTSIDER = 6000  # owner of 3-1-101
OWNERS = {room: 3200 + i for i, room in enumerate(
    ["101", "102", "201", "202", "301", "302", "401", "402", "501", "502", "601", "602"], start=1)}
READY_LINE = "Yishi is running"


@dataclass
class LiveBot:
    """One bot process (restartable) and everything a test needs to talk to it."""

    fake: FakeTelegram
    db: Database
    database_url: str
    runtime: str
    workdir: Path
    codes: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None
    runs: int = 0

    # ------------------------------------------------------------------ the process

    @property
    def log_path(self) -> Path:
        """The current (last started) process's stderr: logging goes there."""
        return self.workdir / f"run-{self.runs}.log"

    def logs(self) -> str:
        """Everything every process of this bot wrote to stderr, in start order."""
        return "\n".join((self.workdir / f"run-{n}.log").read_text(errors="replace")
                         for n in range(1, self.runs + 1) if (self.workdir / f"run-{n}.log").exists())

    async def start(self, *args: str, ready_timeout: float = 60.0, extra_env: dict[str, str] | None = None) -> None:
        """Start `python -m bot run [args]` and wait until it says it is running."""
        assert self.process is None or self.process.returncode is not None, "already running"
        self.runs += 1
        env = {k: v for k, v in os.environ.items() if k not in {"TIMEZONE", "DEFAULT_LOCALE", "BOT_TOKEN"}}
        env.update(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=self.fake.api_base, TRANSPORT=self.runtime,
                   DATABASE_URL=self.database_url, SCHEDULER_ENABLED="false",
                   # Replies are not held back by Telegram's per-group minute limit here.
                   OUTBOX_CHAT_PER_SECOND="0", OUTBOX_GROUP_PER_MINUTE="0", PYTHONUNBUFFERED="1",
                   WEB_PORT="0")  # the web pages on any free port: several bots run at once
        env.update(self.env)
        env.update(extra_env or {})
        with self.log_path.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", *args, cwd=self.workdir, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
        await self.wait_ready(ready_timeout)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while READY_LINE not in self.log_path.read_text(errors="replace"):
            if self.process is not None and self.process.returncode is not None:
                raise AssertionError(f"yishi run exited with {self.process.returncode}:\n{self.logs()[-4000:]}")
            if loop.time() > deadline:
                raise AssertionError(f"yishi run not ready after {timeout}s:\n{self.logs()[-4000:]}")
            await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL: no clean-up runs, as in a power cut or an OOM kill."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as systemd and container runtimes stop a service; returns the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout)

    # ------------------------------------------------------------------ talking to it

    async def say(self, user: int, chat: int, text: str, timeout: float = 15.0) -> StoredMessage:
        """The user writes; returns the bot's first message in that chat after it."""
        sent = self.fake.send_text(user, chat, text)
        return await self.fake.wait_for_message(chat, lambda m: m.from_bot, timeout, after=sent.message_id)

    async def personal(self, user: int, chat: int, text: str, timeout: float = 15.0) -> StoredMessage:
        """A personal command in a group: its answer comes in the user's private chat (Context.reply)."""
        last = self.fake.last_message(user)
        self.fake.send_text(user, chat, text)
        return await self.fake.wait_for_message(user, lambda m: m.from_bot, timeout,
                                                after=last.message_id if last is not None else 0)

    async def press(self, user: int, chat: int, message: StoredMessage, data: str, timeout: float = 15.0) -> str:
        """The user presses a button; returns the toast text."""
        query = self.fake.press_button(user, chat, message.message_id, data)
        answer = await self.fake.wait_for_callback_answer(query, timeout=timeout)
        return answer.text or ""

    def button(self, message: StoredMessage, prefix: str) -> str:
        found = [data for data in message.callback_data if data.startswith(prefix)]
        assert found, f"no button {prefix!r} on {message.text!r}: {message.callback_data}"
        return found[0]

    def bot_messages(self, chat: int, where: Callable[[StoredMessage], bool] = lambda m: True) -> list[StoredMessage]:
        return [m for m in self.fake.messages(chat) if m.from_bot and where(m)]

    # ------------------------------------------------------------------ setting the scene

    async def register_owners(self, rooms: list[str], building_unit: str = "3-2") -> None:
        """Each owner redeems the invite code printed on their notice, in private."""
        for room in rooms:
            user = OWNERS[room] if building_unit == "3-2" else OUTSIDER
            reply = await self.say(user, user, f"/register {self.codes[f'{building_unit}-{room}']}")
            assert f"{building_unit}-{room}" in (reply.text or ""), reply.text

    async def bind_group(self, chat: int = GROUP, scope: str = "3-2") -> None:
        reply = await self.say(MODERATOR, chat, f"/bind {scope}")
        # The room's language (Chinese unless a moderator set /lang en) says it.
        assert any(word in (reply.text or "") for word in ("now bound to", "本群已绑定到")), reply.text


@contextlib.asynccontextmanager
async def live_bot(workdir: Path, runtime: str, database_url: str, *, start: bool = True,
                   env: dict[str, str] | None = None) -> AsyncIterator[LiveBot]:
    """The sample community 幸福里 with a council member, invite codes, two unit rooms; the bot started.

    ``database_url`` must point at an empty database (the ``database_url`` fixture gives one on
    SQLite or PostgreSQL); it is migrated here if it is not yet.
    """
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    try:
        await import_census(db, COMMUNITY, SAMPLE_CENSUS.read_text(encoding="utf-8"))
        await add_council_member(db, COMMUNITY, "telegram", str(MODERATOR))
        codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in await issue_codes(db, COMMUNITY)}
        async with FakeTelegram.running() as fake:
            fake.add_bot(TOKEN, "yishi_bot")
            fake.add_user(MODERATOR, "Moderator Li", language_code="en")
            fake.add_user(ROOM_ADMIN, "Admin Wang", language_code="en")
            fake.add_user(TENANT, "Tenant Zhao", language_code="en")
            fake.add_user(OUTSIDER, "Owner Qian", language_code="en")
            for room, user in OWNERS.items():
                fake.add_user(user, f"Owner {room}", language_code="en")
            everyone = [MODERATOR, ROOM_ADMIN, TENANT, OUTSIDER, *OWNERS.values()]
            for user in everyone:
                fake.add_private_chat(user)
            fake.add_group(GROUP, "3-2 elevator room", members=everyone, admins=[MODERATOR, ROOM_ADMIN])
            fake.add_group(OTHER_GROUP, "3-1 room", members=everyone, admins=[ROOM_ADMIN])
            bot = LiveBot(fake, db, database_url, runtime, workdir, codes, dict(env or {}))
            try:
                if start:
                    await bot.start()
                yield bot
            finally:
                if bot.process is not None and bot.process.returncode is None:
                    try:
                        await bot.terminate(timeout=20)
                    except TimeoutError:
                        await bot.kill()
    finally:
        await db.dispose()
