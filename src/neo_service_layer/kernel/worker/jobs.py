"""A job the worker runs periodically until it is stopped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """``run`` is awaited every ``interval``; an exception is logged and the job runs again next time."""

    name: str
    interval: timedelta
    run: Callable[[], Awaitable[None]]
