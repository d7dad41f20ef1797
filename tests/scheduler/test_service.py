"""The APScheduler integration for real: a SQLite file database, the clock moved, due jobs processed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import time_machine

from bot import metrics
from bot.scheduler.context import JobContext
from bot.scheduler.service import SchedulerService, sync_url
from bot.services import voting
from bot.storage.models import Vote
from tests.scheduler.conftest import MODERATOR, T0, TZ, World, hours, outbox


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait for the scheduler's own tasks (not for the clock: time is moved, never slept through)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("the scheduler did not get there")
        await asyncio.sleep(0.02)


async def _vote(world: World, vote_id: int) -> Vote:
    async with world.db.uow(readonly=True) as uow:
        vote = await uow.session.get(Vote, vote_id)
        assert vote is not None
        return vote


def service(world: World, context: JobContext, database_url: str) -> SchedulerService:
    return SchedulerService(database_url, TZ, context, reconcile_interval=3600, replan_delay=0)


def test_sync_urls() -> None:
    assert sync_url("sqlite+aiosqlite:///./data/x.db") == "sqlite:///./data/x.db"
    assert sync_url("postgresql+asyncpg://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"


async def test_a_due_vote_is_closed_by_apscheduler(world: World, job_context: JobContext, database_url: str) -> None:
    vote = await world.vote("3-2")
    assert vote.id is not None
    with time_machine.travel(T0 + hours(1), tick=False) as clock:
        svc = service(world, job_context, database_url)
        await svc.start()
        try:
            assert svc.leader and svc.scheduler is not None
            ids = {job.id for job in svc.scheduler.get_jobs()}
            assert {f"vote-close:{vote.id}", f"vote-remind:{vote.id}", "deadline-sweep", "nudges"} <= ids
            runs = _job_runs()
            clock.move_to(vote.closes_at + timedelta(seconds=30))
            svc.scheduler.wakeup()

            async def closed() -> bool:
                return (await _vote(world, vote.id or 0)).status == "closed"

            await until(closed)
            await until(lambda: _count(world, f"vote-result:{vote.id}:", 3))
            # /metrics counts the runs by job function (the close, or the sweep that got there first).
            assert _job_runs() > runs
        finally:
            await svc.stop()
    assert sorted(r.chat_id for r in await outbox(world.db, f"vote-result:{vote.id}:")) == ["-1", "-2", "-3"]
    async with world.db.uow(readonly=True) as uow:
        assert await uow.ledger.count("vote_closed") == 1


def _job_runs() -> float:
    return sum(s.value for family in metrics.JOB_RUNS.collect() for s in family.samples
               if s.name == "yishi_scheduler_job_runs_total")


async def _count(world: World, prefix: str, n: int) -> bool:
    return len(await outbox(world.db, prefix)) >= n


async def test_a_restart_during_an_open_vote(world: World, job_context: JobContext, database_url: str) -> None:
    vote = await world.vote("3-2")
    assert vote.id is not None
    with time_machine.travel(T0 + hours(1), tick=False) as clock:
        first = service(world, job_context, database_url)
        await first.start()
        await first.stop()
        # Down through both reminder points; back an hour before the vote closes.
        clock.move_to(vote.closes_at - hours(1))
        second = service(world, job_context, database_url)
        await second.start()
        try:
            await until(lambda: _count(world, "vote-remind:", 3))
            await asyncio.sleep(0.3)  # room for a storm of missed reminders, were there one
            await second.reconcile()
            second.scheduler.wakeup()  # type: ignore[union-attr]
            await asyncio.sleep(0.3)
            reminders = await outbox(world.db, "vote-remind:")
            assert sorted(r.chat_id for r in reminders) == ["-1", "-2", "-3"]
            assert all(r.dedupe_key.startswith(f"vote-remind:{vote.id}:2:") for r in reminders)
            assert f"vote-remind:{vote.id}" not in {j.id for j in second.scheduler.get_jobs()}  # type: ignore[union-attr]
            clock.move_to(vote.closes_at + timedelta(seconds=1))
            second.scheduler.wakeup()  # type: ignore[union-attr]
            await until(lambda: _count(world, f"vote-result:{vote.id}:", 3))
            await asyncio.sleep(0.3)
        finally:
            await second.stop()
    assert len(await outbox(world.db, f"vote-result:{vote.id}:")) == 3
    assert len(await outbox(world.db, "vote-remind:")) == 3
    assert (await _vote(world, vote.id)).status == "closed"


async def test_reconcile_removes_the_jobs_of_a_closed_vote(world: World, job_context: JobContext,
                                                           database_url: str) -> None:
    vote = await world.vote("3-2")
    with time_machine.travel(T0 + hours(1), tick=False):
        svc = service(world, job_context, database_url)
        await svc.start()
        try:
            assert svc.scheduler is not None
            assert f"vote-close:{vote.id}" in {j.id for j in svc.scheduler.get_jobs()}
            await voting.close_vote(world.db, vote.id or 0, MODERATOR)
            outcome = await svc.reconcile()
            assert f"vote-close:{vote.id}" in outcome.removed and f"vote-remind:{vote.id}" in outcome.removed
            assert not {j.id for j in svc.scheduler.get_jobs()} & {f"vote-close:{vote.id}", f"vote-remind:{vote.id}"}
            again = await svc.reconcile()
            assert again.added == [] and again.removed == []  # stable: nothing churns
        finally:
            await svc.stop()


async def test_one_leader_per_sqlite_database(world: World, job_context: JobContext, database_url: str) -> None:
    first, second = service(world, job_context, database_url), service(world, job_context, database_url)
    await first.start()
    await second.start()
    try:
        assert first.leader and not second.leader
        second.replan()  # a follower's replan is a no-op
        assert (await second.reconcile()).kept == 0
        await first.stop()
        assert await second._try_to_lead()  # what its periodic round does
        assert second.leader
    finally:
        await first.stop()
        await second.stop()
