"""For operators, not residents: ``/healthz`` (liveness and readiness) and ``/metrics`` (Prometheus).

Neither carries a name, a chat or an id; still, a public proxy need not forward them (README, Operations).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from bot import metrics
from bot.storage import Database
from bot.storage import outbox as outbox_store
from bot.storage.health import reachable

log = logging.getLogger(__name__)

PATHS = frozenset({"/healthz", "/metrics"})
DB_TIMEOUT = 5.0  # seconds: a probe must answer even when the database hangs

# Whether this process leads the scheduler: True, False (another process holds the lock), None (unknown:
# the scheduler is off here, or not started yet).
Leader = Callable[[], bool | None]

LEADER_WORDS = {True: "this process", False: "another process", None: "unknown"}


class Ops:
    def __init__(self, db: Database, leader: Leader | None = None) -> None:
        self.db = db
        self.leader: Leader = leader or (lambda: None)

    async def healthz(self, _request: web.Request) -> web.Response:
        """200 while the database answers, 503 when it does not (a load balancer takes this process out)."""
        try:
            async with asyncio.timeout(DB_TIMEOUT):
                database = await reachable(self.db)
        except TimeoutError:
            database = False
        body = {"status": "ok" if database else "unavailable", "database": "reachable" if database else "unreachable",
                "scheduler_leader": LEADER_WORDS[self.leader()]}
        return web.json_response(body, status=200 if database else 503, headers={"Cache-Control": "no-store"})

    async def metrics(self, _request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(DB_TIMEOUT), self.db.uow(readonly=True) as uow:
                metrics.set_outbox_queued(await outbox_store.queued_by_kind(uow))
        except Exception:  # noqa: BLE001 - the counters are still worth serving; the gauge is then absent
            log.warning("metrics: outbox queue depth unreadable", exc_info=True)
            metrics.set_outbox_queued({})
        return web.Response(body=metrics.render(), headers={"Content-Type": metrics.CONTENT_TYPE,
                                                            "Cache-Control": "no-store"})


def add_routes(app: web.Application, ops: Ops) -> None:
    app.router.add_get("/healthz", ops.healthz)
    app.router.add_get("/metrics", ops.metrics)
