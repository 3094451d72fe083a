"""Ending background tasks: `cancel_and_wait`, the one way the gateway stops a task it started.

A single cancel can be lost on Python 3.11: `asyncio.wait_for` returns its inner result when a cancel
arrives as that result completes (fixed in 3.12), and redis-py sends every command through it. A task
whose cancel was lost goes on (a Redis read loop forever), and a stop that awaits it hangs. Nothing here
decides what a task does; it only makes sure a task asked to end does end.
"""

from __future__ import annotations

import asyncio
from typing import Any

AGAIN_AFTER = 0.1  # seconds between cancels of a task that did not end


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel each task and wait until it has ended, cancelling again every AGAIN_AFTER seconds while
    it runs on. An exception a task ended with is retrieved, not raised: it was logged where it
    happened, and a stop must go on to release the rest."""
    running = {task for task in tasks if task is not None}
    while pending := {task for task in running if not task.done()}:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=AGAIN_AFTER)
    for task in running:
        if not task.cancelled():
            task.exception()
