"""The outbox's windows and its priority gate, on the event loop's own clock."""

from __future__ import annotations

import asyncio
import math
import time

from bot.outbox import split_text
from bot.outbox.limits import PriorityGate, SlidingWindow


def test_window_counts_sends_in_flight_and_for_a_period_after_they_finish() -> None:
    window = SlidingWindow(2, 1.0)
    assert window.wait(0.0) == 0
    window.start()
    window.start()
    assert window.wait(0.0) == math.inf  # both in flight: wait for one to finish
    window.finish(0.5)
    assert window.wait(0.5) == 1.0  # one finished at 0.5 stays counted until 1.5
    assert math.isclose(window.wait(1.2), 0.3)
    window.finish(1.0)
    assert math.isclose(window.wait(1.4), 0.1)
    assert window.wait(1.5) == 0  # the first has left the window
    assert not window.idle
    assert window.wait(2.0) == 0 and window.idle


def test_a_zero_limit_means_no_limit() -> None:
    window = SlidingWindow(0, 1.0)
    for _ in range(100):
        window.start()
    assert window.wait(0.0) == 0


async def test_gate_grants_the_most_urgent_waiter_first() -> None:
    gate = PriorityGate(SlidingWindow(1, 0.05))
    await gate.acquire(5)  # holds the only slot
    order: list[int] = []

    async def waiter(priority: int) -> None:
        await gate.acquire(priority)
        order.append(priority)
        gate.release()

    tasks = [asyncio.create_task(waiter(p)) for p in (9, 9, 0, 5)]
    await asyncio.sleep(0)
    gate.release()
    await asyncio.gather(*tasks)
    assert order == [0, 5, 9, 9]


async def test_gate_never_lets_more_than_the_limit_through_in_any_window() -> None:
    gate = PriorityGate(SlidingWindow(10, 0.2))
    starts: list[float] = []

    async def one() -> None:
        await gate.acquire(5)
        starts.append(time.monotonic())
        await asyncio.sleep(0.001)
        gate.release()

    await asyncio.gather(*(one() for _ in range(35)))
    starts.sort()
    for i, start in enumerate(starts):
        inside = [s for s in starts[i:] if s < start + 0.2]
        assert len(inside) <= 10


def test_split_text_keeps_lines_whole_and_parts_under_the_limit() -> None:
    lines = [f"line {i:04d} " + "x" * 50 for i in range(300)]
    parts = split_text("\n".join(lines), limit=1000)
    assert all(len(part) <= 1000 for part in parts)
    assert "\n".join(parts).split("\n") == lines
    assert split_text("y" * 2500, limit=1000) == ["y" * 1000, "y" * 1000, "y" * 500]
    assert split_text("  \n \n") == []
