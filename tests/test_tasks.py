"""cancel_and_wait stops tasks but never swallows a cancellation aimed at the caller."""

from __future__ import annotations

import asyncio

import pytest

from bot.tasks import cancel_and_wait


async def test_tasks_are_cancelled_and_awaited() -> None:
    sleeper = asyncio.create_task(asyncio.sleep(60))
    failing = asyncio.create_task(asyncio.sleep(0, result=None))
    await failing
    await cancel_and_wait([sleeper, failing])
    assert sleeper.cancelled()


async def test_the_callers_own_cancellation_propagates() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        # Ignores its first cancellation, as a task finishing a database call would.
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await release.wait()

    target = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    stopper = asyncio.create_task(cancel_and_wait([target]))
    await asyncio.sleep(0.01)
    stopper.cancel()  # e.g. asyncio.run shutting down
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert target.done()
