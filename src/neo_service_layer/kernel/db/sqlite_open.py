"""Opening an aiosqlite connection that a cancelled caller does not leave open.

aiosqlite opens the ``sqlite3`` connection on its own thread, over a few turns of the event loop. When
the task waiting for it is cancelled meanwhile (a request whose client went away, a background read
stopped at shutdown), aiosqlite drops the opened connection without closing it: its file stays open
until the garbage collector finalises it with ``ResourceWarning: unclosed database`` (aiosqlite issue
259, still open in 0.22). Here the open runs in a task of its own that the cancellation does not
reach; the cancelled caller waits for it to end, closes what it opened, and only then stops, so
nothing of the open outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiosqlite


async def open_connection(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    """``aiosqlite.connect(*args, **kwargs)``, closed again if the caller is cancelled meanwhile."""
    pending = aiosqlite.connect(*args, **kwargs)
    # as SQLAlchemy's own open does: a connection nobody closed must not hold the process open at exit
    pending._thread.daemon = True
    opening: asyncio.Future[aiosqlite.Connection] = asyncio.ensure_future(pending)
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        await _close_once_open(opening)
        raise


async def _close_once_open(opening: asyncio.Future[aiosqlite.Connection]) -> None:
    """Wait for the open to end and close what it produced (a failed open closed its own)."""
    await _wait_out(opening)
    if opening.cancelled() or opening.exception() is not None:
        return
    closing = opening.result().stop()
    if closing is not None:
        await _wait_out(closing)


async def _wait_out(future: asyncio.Future[Any]) -> None:
    """Wait until ``future`` is done; a further cancellation of the caller does not cut this short
    (the caller is stopping already and re-raises its cancellation after)."""
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait((future,))
