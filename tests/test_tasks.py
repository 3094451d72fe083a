"""`cancel_and_wait` ends a task whose first cancel is lost, as Python 3.11's `asyncio.wait_for` can lose
one (redis-py sends commands through it): a plain cancel and await of such a task never returns."""

from __future__ import annotations

import asyncio
import contextlib

from gateway.tasks import Deadline, cancel_and_wait


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


async def in_deadline(delay: float | None, wait: asyncio.Future[None]) -> str:
    loop, me = asyncio.get_running_loop(), asyncio.current_task()
    assert me is not None
    try:
        with Deadline(loop, me, delay):
            await wait
    except TimeoutError:
        await asyncio.sleep(0)  # the task goes on after its timeout: the cancel was taken back
        return "timed out"
    return "done"


async def test_a_deadline_times_out_and_the_task_goes_on() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    assert await asyncio.wait_for(in_deadline(0.05, never), 5) == "timed out"


async def test_a_deadline_met_or_none_lets_the_work_finish() -> None:
    loop = asyncio.get_running_loop()
    for delay in (5.0, None):
        soon: asyncio.Future[None] = loop.create_future()
        loop.call_later(0.01, soon.set_result, None)
        assert await in_deadline(delay, soon) == "done"


async def test_a_cancel_from_outside_is_not_turned_into_a_timeout() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(in_deadline(5.0, never))
    await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
