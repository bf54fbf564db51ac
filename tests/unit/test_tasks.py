"""``kernel.tasks.cancel_and_wait``: the task has ended when it returns; the caller's own cancel holds."""

from __future__ import annotations

import asyncio

import pytest

from neo_service_layer.kernel.tasks import cancel_and_wait


async def test_the_task_has_ended_and_cleaned_up_when_it_returns() -> None:
    cleaned: list[str] = []

    async def background() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits
            cleaned.append("done")

    task = asyncio.create_task(background())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()
    assert cleaned == ["done"]


async def test_a_caller_cancelled_while_it_waits_stays_cancelled() -> None:
    stopping = asyncio.Event()
    release = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            stopping.set()
            await release.wait()  # takes its time to end

    async def caller(task: asyncio.Task[None]) -> str:
        await cancel_and_wait(task)
        return "went on"

    task = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    stopper = asyncio.create_task(caller(task))
    await stopping.wait()
    stopper.cancel()  # the caller itself is stopped while it waits
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert task.done()


async def test_a_caller_already_being_cancelled_still_cleans_up_after_the_task() -> None:
    closed: list[str] = []

    async def lifespan(task: asyncio.Task[None]) -> None:
        try:
            await asyncio.sleep(60)
        finally:  # reached by the caller's own cancellation
            await cancel_and_wait(task)
            closed.append("closed")

    task = asyncio.create_task(asyncio.sleep(60))
    owner = asyncio.create_task(lifespan(task))
    await asyncio.sleep(0)
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner
    assert task.cancelled()
    assert closed == ["closed"]


async def test_an_error_the_task_ended_with_is_raised() -> None:
    async def failing() -> None:
        raise ValueError("broken")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="broken"):
        await cancel_and_wait(task)
