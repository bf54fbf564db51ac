"""A job the worker runs periodically until it is stopped, or sooner when something wakes it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """``run`` is awaited every ``interval``; an exception is logged and the job runs again next time.
    ``close`` (optional) is awaited once when the worker stops, after the job's last run: a job whose
    ``run`` started something that outlives it (a bus consumer) stops it there.

    ``wake`` (optional) runs the job before its interval is out: whoever learns of new work for it (a
    database notification, the job before it in a pipeline) sets the event. It is cleared as a run
    starts, so a wake during a run is one more run right after it, and many wakes are one run. The
    interval still holds as the backstop: a wake that never comes delays the work, never loses it."""

    name: str
    interval: timedelta
    run: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]] | None = None
    wake: asyncio.Event | None = None


def worker_identity() -> str:
    """This process's name as a lease holder: host name and process id."""
    return f"{os.uname().nodename[:40]}-{os.getpid()}"
