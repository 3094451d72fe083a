"""`cancel_and_wait` ends a task whose first cancel is lost, as Python 3.11's `asyncio.wait_for` can lose
one (redis-py sends commands through it): a plain cancel and await of such a task never returns."""

from __future__ import annotations

import asyncio
import contextlib

from gateway.tasks import cancel_and_wait


async def swallows_one_cancel(ended: list[str]) -> None:
    """Loses the first cancel, as wait_for does when it meets a finished command, and reads on."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()
    try:
        await asyncio.Event().wait()  # the next read: only another cancel ends it
    finally:
        ended.append("ended")


async def fails(message: str) -> None:
    raise RuntimeError(message)


async def test_a_task_that_lost_its_cancel_is_cancelled_again_until_it_ends() -> None:
    ended: list[str] = []
    task = asyncio.create_task(swallows_one_cancel(ended))
    await asyncio.sleep(0)  # let it start waiting
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=0.3)
    assert not done and ended == []  # one cancel: still running
    async with asyncio.timeout(5):
        await cancel_and_wait(task)
    assert ended == ["ended"] and task.cancelled()


async def test_ended_and_failed_tasks_and_none_are_fine() -> None:
    finished = asyncio.create_task(asyncio.sleep(0))
    failed = asyncio.create_task(fails("its own error"))
    await asyncio.wait({finished, failed})
    async with asyncio.timeout(5):
        await cancel_and_wait(finished, failed, None)  # the failure is not raised here
    assert failed.exception() is not None
