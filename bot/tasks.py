"""Stopping background tasks without swallowing the stopper's own cancellation.

``task.cancel(); with suppress(CancelledError): await task`` also swallows a cancellation aimed at the
task doing the stopping: it then carries on and may wait for ever, which hangs an event loop's shutdown
(asyncio.run cancels every task and waits for all of them to end).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:  # a Task is a Future, of any result
    """Cancel ``tasks`` and wait until they ended; a cancellation of the caller itself still propagates."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    for task in pending:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception:  # noqa: BLE001, S110 - the task's own failure was its to report; we only stop it
            pass


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds passed; True when it was set.

    Not ``asyncio.wait_for``: on Python 3.11 it can swallow a cancellation that arrives as its timeout
    fires (CPython gh-86296), so a loop cancelled at that instant would carry on for ever.
    ``asyncio.timeout`` counts cancellations and lets an outside one through.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
