"""Ending background tasks: `cancel_and_wait`, the one way the gateway stops a task it started; and
timing waits on the hot paths: `Deadline`, the timeout scope of a long-lived worker, and `expire`.

A single cancel can be lost on Python 3.11: `asyncio.wait_for` returns its inner result when a cancel
arrives as that result completes (fixed in 3.12), and redis-py sends every command through it. A task
whose cancel was lost goes on (a Redis read loop forever), and a stop that awaits it hangs. Nothing here
decides what a task does; it only makes sure a task asked to end does end.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
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


def expire(future: asyncio.Future[Any]) -> None:
    """A timer's callback: fail a future still waiting with TimeoutError (one `call_later` per wait, in
    place of an asyncio.timeout scope and its running-loop lookups)."""
    if not future.done():
        future.set_exception(TimeoutError())


class Deadline:
    """`asyncio.timeout(delay)` for a worker task that knows its loop and itself: `with Deadline(loop,
    task, delay): await ...` raises TimeoutError past `delay` seconds (None: no limit), with asyncio's
    semantics (the task cancelled, the cancel taken back, a cancel from outside left alone).

    On Python 3.11 asyncio's scope looks up the running loop three times per use, and each lookup is a
    getpid() syscall: three a webhook event in the bus (bench/README.md, "The server side")."""

    __slots__ = ("_cancelling", "_expired", "_handle", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], delay: float | None) -> None:
        self._task = task
        self._expired = False
        self._cancelling = task.cancelling()
        self._handle = None if delay is None else loop.call_later(delay, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def __enter__(self) -> Deadline:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._expired and self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc
