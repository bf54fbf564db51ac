"""A job the worker runs periodically until it is stopped."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """``run`` is awaited every ``interval``; an exception is logged and the job runs again next time."""

    name: str
    interval: timedelta
    run: Callable[[], Awaitable[None]]


def worker_identity() -> str:
    """This process's name as a lease holder: host name and process id."""
    return f"{os.uname().nodename[:40]}-{os.getpid()}"
