"""Two real bot processes on one PostgreSQL database: one scheduler leads, a due vote closes once,
and the follower takes over when the leader is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from bot.storage.models import Vote, utcnow
from tests.conftest import TEST_DATABASE_URL
from tests.scheduler.conftest import World, outbox
from tests.scheduler.test_service import until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"), reason="needs TEST_DATABASE_URL (PostgreSQL)"),
]
WORKER = Path(__file__).with_name("leader_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _spawn(log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(WORKER), TEST_DATABASE_URL], stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def _leads(log: Path) -> bool:
    return "leads the scheduler" in log.read_text(errors="replace")


async def _closed(world: World, vote_id: int) -> bool:
    async with world.db.uow(readonly=True) as uow:
        vote = await uow.session.get(Vote, vote_id)
        return vote is not None and vote.status == "closed"


async def test_two_processes_one_leader_and_a_takeover(world: World) -> None:
    past = utcnow() - timedelta(days=8)
    due = await world.vote("3-2", now=past, title="Due already")  # closed 1 day ago, while nobody ran
    assert due.id is not None
    with tempfile.TemporaryDirectory() as tmp:
        logs = [Path(tmp) / "a.log", Path(tmp) / "b.log"]
        workers = [_spawn(logs[0]), _spawn(logs[1])]
        try:
            await until(lambda: _closed(world, due.id or 0), timeout=30)
            await until(lambda: _async(any(_leads(p) for p in logs)), timeout=30)
            await asyncio.sleep(2)  # several reconcile rounds of both processes
            leaders = [i for i, p in enumerate(logs) if _leads(p)]
            assert len(leaders) == 1, [p.read_text() for p in logs]
            results = await outbox(world.db, f"vote-result:{due.id}:")
            assert sorted(r.chat_id for r in results) == ["-1", "-2", "-3"]
            async with world.db.uow(readonly=True) as uow:
                assert await uow.ledger.count("vote_closed") == 1

            leader, follower = leaders[0], 1 - leaders[0]
            workers[leader].send_signal(signal.SIGKILL)
            workers[leader].wait(10)
            later = await world.vote("3-1", now=past, title="Due too", author="3")
            await until(lambda: _async(_leads(logs[follower])), timeout=30)
            await until(lambda: _closed(world, later.id or 0), timeout=30)
            await until(lambda: _count(world, f"vote-result:{later.id}:", 3), timeout=30)
            assert sorted(r.chat_id for r in await outbox(world.db, f"vote-result:{later.id}:")) == ["-1", "-2", "-4"]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                    try:
                        worker.wait(10)
                    except subprocess.TimeoutExpired:
                        worker.kill()


async def _async(value: bool) -> bool:
    return value


async def _count(world: World, prefix: str, n: int) -> bool:
    return len(await outbox(world.db, prefix)) >= n
