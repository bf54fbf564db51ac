"""Stopping a background task from the code that started it."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended, so nothing of it runs once the caller goes on.

    The task's own cancellation is absorbed, also when the caller runs this while it is itself being
    cancelled (a ``finally`` on the way out still cleans up after it). A cancellation of the caller
    that arrives while it waits is not absorbed: that caller stays stopped, where
    ``contextlib.suppress(CancelledError)`` would swallow it. An error the task ended with is raised.
    """
    current = asyncio.current_task()
    stops_before = current.cancelling() if current is not None else 0
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if current is not None and current.cancelling() > stops_before:
            raise
