"""A job the worker runs periodically until it is stopped."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """``run`` is awaited every ``interval``; an exception is logged and the job runs again next time.
    ``close`` (optional) is awaited once when the worker stops, after the job's last run: a job whose
    ``run`` started something that outlives it (a bus consumer) stops it there."""

    name: str
    interval: timedelta
    run: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]] | None = None


def worker_identity() -> str:
    """This process's name as a lease holder: host name and process id."""
    return f"{os.uname().nodename[:40]}-{os.getpid()}"
