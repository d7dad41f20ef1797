"""cancel_and_wait and wait_event never swallow a cancellation: a stopped loop stops."""

from __future__ import annotations

import asyncio

import pytest

from bot.tasks import cancel_and_wait, wait_event


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


async def test_a_loop_waiting_on_an_event_stops_when_cancelled_as_the_event_fires() -> None:
    """The outbox, scheduler and intake loops wait on a wake-up event between rounds.

    Cancelled in the same turn of the event loop as the event is set, a loop built on Python 3.11's
    ``asyncio.wait_for`` took the event and carried on for ever (it hung a CI run); on wait_event it stops.
    """
    rounds = 0

    async def loop(wakeup: asyncio.Event) -> None:
        nonlocal rounds
        while True:
            if await wait_event(wakeup, 5):
                rounds += 1
            wakeup.clear()

    for turns in range(1, 4):
        wakeup = asyncio.Event()
        task = asyncio.create_task(loop(wakeup))
        for _ in range(turns):
            await asyncio.sleep(0)
        wakeup.set()
        task.cancel()
        async with asyncio.timeout(2):
            with pytest.raises(asyncio.CancelledError):
                await task
    assert rounds == 0


async def test_wait_event_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True
