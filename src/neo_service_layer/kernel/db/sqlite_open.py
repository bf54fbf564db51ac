"""Opening an aiosqlite connection that a cancelled caller does not leave open.

aiosqlite opens the ``sqlite3`` connection on its own thread. When the task waiting for it is
cancelled first (a request whose client went away, a job stopped at shutdown), aiosqlite drops the
opened connection without closing it: its file stays open until the garbage collector finalises it
with ``ResourceWarning: unclosed database`` (aiosqlite issue 259, still open in 0.22). Here the open
runs to its end in a task of its own, whatever happens to the caller, and a connection nobody is
left to receive is closed.
"""

from __future__ import annotations

import asyncio
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
        opening.add_done_callback(_close_unreceived)
        raise


def _close_unreceived(opening: asyncio.Future[aiosqlite.Connection]) -> None:
    """Close what the open produced; a failed open was already closed by aiosqlite."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().stop()
