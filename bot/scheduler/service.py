"""The scheduler service: one elected process runs APScheduler on jobs derived from the database.

- Jobs live in APScheduler's SQLAlchemyJobStore on the bot's own database (a synchronous URL
  derived from DATABASE_URL), but the database rows (votes, proposals, digests...) stay the source
  of truth: ``reconcile`` makes the store equal to the union of the registered plans at start-up,
  every ``reconcile_interval`` seconds and soon after ``replan()``.
- APScheduler 3 cannot share a job store between processes, so exactly one process runs it: on
  PostgreSQL the holder of a session advisory lock (``pg_try_advisory_lock``) on a dedicated
  connection, on SQLite the holder of an exclusive ``flock`` on a file next to the database.
  Followers retry every ``reconcile_interval`` seconds and take over when the leader dies.
- The job store is synchronous; its reads and writes run in a worker thread so that, on SQLite, they
  never block the event loop while an async transaction holds the write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot import metrics
from bot.scheduler.context import JobContext, set_context
from bot.scheduler.jobs import planners as wired_planners
from bot.scheduler.plan import PlannedJob, Planner
from bot.storage.jobstore import engine_options, sync_url
from bot.storage.locks import AdvisoryLock, process_lock
from bot.storage.models import utcnow
from bot.tasks import cancel_and_wait, wait_event

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x59_49_53_48  # "YISH": the scheduler leader's PostgreSQL advisory lock
JOBS_TABLE = "apscheduler_jobs"
STOP_GRACE = 10.0  # seconds a stopping service waits for its current round before cancelling it


# --- APScheduler with its synchronous job store kept off the event loop --------------------------------


class _Executor(AsyncIOExecutor):
    """Jobs are submitted from the worker thread that processes the store; start them on the loop."""

    def _do_submit_job(self, job: Any, run_times: Any) -> None:
        self._eventloop.call_soon_threadsafe(self._start, job, run_times)

    def _start(self, job: Any, run_times: Any) -> None:
        metrics.JOB_RUNS.labels(job=metrics.job_name(job.func_ref)).inc(len(run_times))
        super()._do_submit_job(job, run_times)


class _Scheduler(AsyncIOScheduler):
    _busy = False
    _again = False

    def wakeup(self) -> None:  # thread-safe, like the parent's
        self._eventloop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._eventloop is None:
            return
        self._stop_timer()
        if self._busy:
            self._again = True
            return
        self._busy = True
        done = self._eventloop.run_in_executor(None, self._process_jobs)
        done.add_done_callback(self._processed)

    def _processed(self, done: asyncio.Future[float | None]) -> None:
        self._busy = False
        if self._eventloop is None or not self.running:
            return
        try:
            wait = done.result()
        except Exception:  # noqa: BLE001
            log.exception("processing due jobs failed")
            wait = self.jobstore_retry_interval
        if self._again:
            self._again = False
            self._wake()
        else:
            self._start_timer(wait)

    def shutdown(self, wait: bool = True) -> None:
        # At once, not deferred to the next loop turn: stop() returns with the store closed.
        BaseScheduler.shutdown(self, wait)
        self._stop_timer()


# --- the service ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reconciled:
    added: list[str]
    removed: list[str]
    kept: int


class SchedulerService:
    def __init__(
        self, database_url: str, tz: tzinfo, context: JobContext, *,
        reconcile_interval: float = 60.0, replan_delay: float = 1.0, jobs_table: str = JOBS_TABLE,
        planners: list[Planner] | None = None,
    ) -> None:
        self.database_url = database_url
        # What each job module wired (bot.scheduler.jobs) unless a test passes its own.
        self.planners = wired_planners() if planners is None else planners
        self.tz = tz
        self.context = context
        self.reconcile_interval = reconcile_interval
        self.replan_delay = replan_delay
        self.jobs_table = jobs_table
        self.scheduler: _Scheduler | None = None
        self._lock = process_lock(database_url, ADVISORY_LOCK_KEY, suffix=".scheduler.lock")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._replan = asyncio.Event()
        self._stopping = False
        self._reconciling = asyncio.Lock()

    @property
    def leader(self) -> bool:
        return self.scheduler is not None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self.context.replan = self.replan
        set_context(self.context)
        await self._try_to_lead()
        self._task = asyncio.create_task(self._run(), name="scheduler-service")

    async def stop(self) -> None:
        if self._task is not None:
            # The loop ends after its current round: cancelled inside a reconcile, an aiosqlite connection is
            # torn down while APScheduler's thread may hold the file's write lock, and closing it waits for that.
            self._stopping = True
            self._replan.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_GRACE):
                    await asyncio.shield(self._task)
            await cancel_and_wait([self._task])
            self._task = None
        await self._step_down()
        if isinstance(self._lock, AdvisoryLock):
            await self._lock.dispose()
        set_context(None)

    def replan(self) -> None:
        """Reconcile soon (debounced); safe from handlers and other threads; nothing when not leading."""
        if self._loop is None or not self.leader:
            return
        self._loop.call_soon_threadsafe(self._replan.set)

    async def _run(self) -> None:
        while not self._stopping:
            if await wait_event(self._replan, self.reconcile_interval) and not self._stopping:
                await asyncio.sleep(self.replan_delay)  # gather a burst of changes into one reconcile
            if self._stopping:
                return
            self._replan.clear()
            try:
                if self.leader:
                    if await self._lock.alive():
                        await self.reconcile()
                    else:
                        await self._step_down()
                else:
                    await self._try_to_lead()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the service keeps going; the next round retries
                log.exception("scheduler round failed")

    async def _try_to_lead(self) -> bool:
        if self.leader:
            return True
        try:
            if not await self._lock.acquire():
                log.info("another process runs the scheduler; this one (pid %s) follows", os.getpid())
                return False
        except Exception:  # noqa: BLE001
            log.exception("could not try the scheduler lock")
            return False
        scheduler = _Scheduler(
            jobstores={"default": SQLAlchemyJobStore(url=sync_url(self.database_url), tablename=self.jobs_table,
                                                     engine_options=engine_options(self.database_url))},
            executors={"default": _Executor()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=self.tz,
            event_loop=self._loop,
        )
        try:
            # Paused until the store matches the database: no stale job fires before the reconcile.
            await asyncio.to_thread(scheduler.start, paused=True)
            self.scheduler = scheduler
            await self.reconcile()
            scheduler.resume()
        except Exception:
            log.exception("could not start the scheduler")
            self.scheduler = None
            with contextlib.suppress(Exception):
                scheduler.shutdown(wait=False)
            await self._lock.release()
            return False
        log.info("this process (pid %s on %s) leads the scheduler", os.getpid(), socket.gethostname())
        return True

    async def _step_down(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            with contextlib.suppress(Exception):
                scheduler.shutdown(wait=False)  # on the loop: the executor cancels its job tasks
            log.info("this process (pid %s) no longer leads the scheduler", os.getpid())
        await self._lock.release()

    async def reconcile(self, now: datetime | None = None) -> Reconciled:
        """Make the job store equal to the union of every planner's jobs (no-op when not leading)."""
        if self.scheduler is None:
            return Reconciled([], [], 0)
        now = now or utcnow()
        async with self._reconciling:
            planned: dict[str, PlannedJob] = {}
            for plan in self.planners:
                for job in await plan(self.context.db, now):
                    if job.id in planned:
                        log.warning("two planned jobs share the id %s; keeping the first", job.id)
                        continue
                    planned[job.id] = job
            scheduler = self.scheduler
            result = await asyncio.to_thread(self._apply, scheduler, planned, now)
        if result.added or result.removed:
            log.info("scheduler reconciled: %d added or changed, %d removed, %d kept",
                     len(result.added), len(result.removed), result.kept)
        return result

    def _apply(self, scheduler: _Scheduler, planned: dict[str, PlannedJob], now: datetime) -> Reconciled:
        existing = {job.id: job for job in scheduler.get_jobs(jobstore="default")}
        removed = []
        for job_id in existing.keys() - planned.keys():
            with contextlib.suppress(JobLookupError):
                scheduler.remove_job(job_id, jobstore="default")
            removed.append(job_id)
        added = []
        for job_id, job in planned.items():
            trigger = self._trigger(job, now)
            old = existing.get(job_id)
            if old is not None and self._same(old, job, trigger, now):
                continue
            scheduler.add_job(job.func, trigger=trigger, args=list(job.args), id=job_id, name=job_id,
                              jobstore="default", replace_existing=True, coalesce=True, max_instances=1,
                              misfire_grace_time=job.misfire_grace_time)
            added.append(job_id)
        return Reconciled(sorted(added), sorted(removed), len(planned) - len(added))

    def _trigger(self, job: PlannedJob, now: datetime) -> DateTrigger | CronTrigger:
        if job.run_at is not None:
            return DateTrigger(run_date=max(job.run_at, now), timezone=self.tz)
        return CronTrigger(timezone=self.tz, **(job.cron or {}))

    @staticmethod
    def _same(old: Any, job: PlannedJob, trigger: DateTrigger | CronTrigger, now: datetime) -> bool:
        if old.func_ref != job.func or tuple(old.args) != tuple(job.args):
            return False
        if old.misfire_grace_time != job.misfire_grace_time or old.next_run_time is None:
            return False
        if isinstance(trigger, DateTrigger):
            if not isinstance(old.trigger, DateTrigger):
                return False
            # An overdue job is planned "now" at every round: one already waiting to run (and not so
            # late that APScheduler would drop it as a misfire) is the same job.
            waiting = old.trigger.run_date <= now and (now - old.trigger.run_date).total_seconds() < \
                job.misfire_grace_time
            return bool(old.trigger.run_date == trigger.run_date or (waiting and trigger.run_date <= now))
        return isinstance(old.trigger, CronTrigger) and str(old.trigger) == str(trigger) and \
            str(old.trigger.timezone) == str(trigger.timezone)
