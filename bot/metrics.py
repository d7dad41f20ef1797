"""Prometheus metrics of one process, served at ``/metrics`` by the web server (bot/web/ops.py).

A leaf utility like ``bot.tasks``: the few central places (the transports' intake, the outbox
dispatcher, the scheduler's executor) count here; no feature handler does. Labels are bounded sets
(transport, outcome, job function, outbox kind), never a chat, a member or an id.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "JOB_RUNS", "OUTBOX_QUEUED", "REGISTRY", "RETRY_AFTER", "UPDATES", "UPDATE_SECONDS",
           "job_name", "render", "set_outbox_queued"]

# Our own registry: no process/platform collectors from other libraries, the same text on every platform.
REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST

UPDATES = Counter("yishi_updates", "Updates handed to the handlers, by transport and outcome "
                  "(handled, duplicate: already handled or in hand elsewhere, failed: the member got an apology).",
                  ["transport", "outcome"], registry=REGISTRY)
UPDATE_SECONDS = Histogram("yishi_update_handling_seconds", "Time from an update's hand-over to the handlers to "
                           "their return, by transport.", ["transport"], registry=REGISTRY,
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
RETRY_AFTER = Counter("yishi_outbox_retry_after", "429 Too Many Requests answers the outbox received "
                      "(each paused one chat for the time Telegram asked).", registry=REGISTRY)
JOB_RUNS = Counter("yishi_scheduler_job_runs", "Scheduler jobs started in this process, by job function.",
                   ["job"], registry=REGISTRY)
OUTBOX_QUEUED = Gauge("yishi_outbox_queued", "Outbox messages pending or in flight, by kind (the first part of "
                      "their dedupe key: reply, nudge, digest, ...); read from the database at scrape time.",
                      ["kind"], registry=REGISTRY)

_PLAIN = re.compile(r"[^a-z0-9_-]")


def job_name(func_ref: object) -> str:
    """``bot.scheduler.deadlines:close_vote`` -> ``close_vote``: the function, not one job's id."""
    return str(func_ref).rpartition(":")[2].rpartition(".")[2][:64] or "unknown"


def set_outbox_queued(depth: dict[str, int]) -> None:
    """Replace the gauge's series with this scrape's counts (a kind with nothing queued disappears)."""
    OUTBOX_QUEUED.clear()
    for kind, count in depth.items():
        OUTBOX_QUEUED.labels(kind=_PLAIN.sub("_", kind.lower())[:40] or "other").inc(count)


def render() -> bytes:
    return generate_latest(REGISTRY)
