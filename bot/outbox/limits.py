"""Send limits that the platform cannot see us exceed, whatever the network does.

Telegram counts a message when it arrives, which is some time after we start sending it. A
limiter that counts sends from their start (a leaky bucket such as aiolimiter's) lets two sends
that left 1/30 s apart arrive closer together, and a burst allowed after a quiet spell adds up to
twice the rate inside one second: both end in 429s. ``SlidingWindow`` counts a send from the moment
it starts until one period after it finished, so the server, which sees each arrival somewhere in
between, can never count more than the limit in any window.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Messages per second overall and per chat, per minute per group; 0 means no limit."""

    global_per_second: int = 30
    chat_per_second: int = 1
    group_per_minute: int = 20


class SlidingWindow:
    """At most ``limit`` sends in flight or finished within the last ``period`` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.in_flight = 0
        self._finished: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until a send may start (0: now; inf: when a send in flight finishes)."""
        if self.limit <= 0:
            return 0.0
        while self._finished and self._finished[0] <= now - self.period:
            self._finished.popleft()
        if self.in_flight + len(self._finished) < self.limit:
            return 0.0
        if not self._finished:
            return math.inf
        return self._finished[0] + self.period - now

    def start(self) -> None:
        self.in_flight += 1

    def finish(self, now: float) -> None:
        self.in_flight -= 1
        if self.limit > 0:
            self._finished.append(now)

    @property
    def idle(self) -> bool:
        return self.in_flight == 0 and not self._finished


class PriorityGate:
    """The global window, granted to waiters by priority (lower first), then in arrival order.

    Grants are also spaced evenly (period / limit apart): a window that just emptied would
    otherwise let a whole second's worth start at once and then sit idle for the rest of it.
    """

    def __init__(self, window: SlidingWindow) -> None:
        self.window = window
        self.spacing = window.period / window.limit if window.limit > 0 else 0.0
        self._last_grant = -math.inf
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    async def acquire(self, priority: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        self._grant()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted just as we were cancelled: give the slot back
            raise

    def release(self) -> None:
        self.window.finish(time.monotonic())
        self._grant()

    def _grant(self) -> None:
        while self._waiters:
            now = time.monotonic()
            wait = max(self.window.wait(now), self._last_grant + self.spacing - now)
            if wait > 0:
                if wait != math.inf and self._timer is None:
                    self._timer = asyncio.get_running_loop().call_later(wait, self._tick)
                return
            _priority, _order, future = heapq.heappop(self._waiters)
            if future.done():  # cancelled while waiting
                continue
            self.window.start()
            self._last_grant = now
            future.set_result(None)

    def _tick(self) -> None:
        self._timer = None
        self._grant()
