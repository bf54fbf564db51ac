"""Which occurrences of an upkeep are due since the last scan, and what its status reports.

An occurrence is identified by its due time (unix seconds, cron and interval-seconds), its due block
(interval-blocks and condition checks) or its event slot (:func:`triggers.event_occurrence`). A scan
looks at the window ``(max(since, last_scanned), now]``; the caller then moves its cursor to
:func:`scan_cursor` so that occurrences held back by the catch-up cap are found by the next scan.
"""

from __future__ import annotations

from enum import StrEnum

from neo_service_layer.services.automation.rules.cron import (
    cron_occurrences,
    next_cron,
    previous_cron,
)
from neo_service_layer.services.automation.rules.triggers import (
    ConditionTrigger,
    CronTrigger,
    EventTrigger,
    IntervalBlocksTrigger,
    IntervalSecondsTrigger,
    Trigger,
)

MAX_CATCH_UP = 16
# LATEST lists at most this many of the missed occurrences (the newest ones) as skipped; a longer
# outage is not recorded one occurrence at a time.
MAX_SKIPPED = 64


class CatchUp(StrEnum):
    """What happens to occurrences missed while no worker ran (or the chain was down)."""

    ALL = "all"  # each runs once, oldest first, at most MAX_CATCH_UP per upkeep per scan
    LATEST = "latest"  # only the newest runs; the others are skipped as MISSED


class SkipReason(StrEnum):
    PAUSED = "paused"
    BALANCE_TOO_LOW = "balance_too_low"
    CONDITION_FALSE = "condition_false"
    GAS_LIMIT = "gas_limit"
    DRY_RUN_FAULTED = "dry_run_faulted"
    MISSED = "missed"
    CANCELLED = "cancelled"


def _arithmetic(
    start: int, every: int, since: int, last_scanned: int, now: int, catch_up: CatchUp
) -> tuple[list[int], list[int]]:
    """Occurrences ``start + k * every`` (k >= 1) in ``(max(since, last_scanned), now]``."""
    if every < 1:
        raise ValueError("the interval must be at least 1")
    lower = max(since, last_scanned)
    first_k = max(1, (lower - start) // every + 1)
    last_k = (now - start) // every
    if last_k < first_k:
        return [], []
    if catch_up is CatchUp.ALL:
        return [start + k * every for k in range(first_k, min(last_k, first_k + MAX_CATCH_UP - 1) + 1)], []
    skipped_from = max(first_k, last_k - MAX_SKIPPED)
    return [start + last_k * every], [start + k * every for k in range(skipped_from, last_k)]


def due_time_occurrences(
    trigger: CronTrigger | IntervalSecondsTrigger, since: int, last_scanned: int, now: int, catch_up: CatchUp
) -> tuple[list[int], list[int]]:
    """(to run, skipped as MISSED) among the time occurrences in ``(max(since, last_scanned), now]``.

    Interval occurrences are ``since + k * seconds`` for k >= 1; cron occurrences are minute starts.
    ALL runs the oldest MAX_CATCH_UP and skips none; LATEST runs the newest and skips the newest
    MAX_SKIPPED of the others. Both lists are ascending.
    """
    if isinstance(trigger, IntervalSecondsTrigger):
        return _arithmetic(since, trigger.seconds, since, last_scanned, now, catch_up)
    schedule = trigger.schedule
    lower = max(since, last_scanned)
    if now <= lower:
        return [], []
    if catch_up is CatchUp.ALL:
        return cron_occurrences(schedule, lower, now, MAX_CATCH_UP), []
    newest = previous_cron(schedule, now, lower + 1)
    if newest is None:
        return [], []
    skipped: list[int] = []
    cursor = newest - 60
    while len(skipped) < MAX_SKIPPED:
        earlier = previous_cron(schedule, cursor, lower + 1)
        if earlier is None:
            break
        skipped.append(earlier)
        cursor = earlier - 60
    return [newest], skipped[::-1]


def due_block_occurrences(
    every: int, since_block: int, last_scanned_block: int, height: int, catch_up: CatchUp
) -> tuple[list[int], list[int]]:
    """(to run, skipped) among blocks ``since_block + k * every`` (k >= 1) in the scan window.

    The same rule as :func:`due_time_occurrences`, for interval-blocks triggers and for the blocks at
    which a condition is checked (``every_blocks``).
    """
    return _arithmetic(since_block, every, since_block, last_scanned_block, height, catch_up)


def scan_cursor(run: list[int], now: int) -> int:
    """Where the next scan starts: ``now``, unless the catch-up cap held occurrences back.

    With MAX_CATCH_UP occurrences to run there may be more after the last of them, so the cursor stops
    there and the next scan finds the rest (each occurrence is still found only once).
    """
    return run[-1] if len(run) >= MAX_CATCH_UP else now


def next_due(
    trigger: Trigger, since: int, since_block: int, now: int, height: int
) -> tuple[int | None, int | None]:
    """(next due unix time, next due block) after ``now`` / ``height``; an event trigger has neither."""
    if isinstance(trigger, CronTrigger):
        return next_cron(trigger.schedule, now), None
    if isinstance(trigger, IntervalSecondsTrigger):
        return _next_step(since, trigger.seconds, now), None
    if isinstance(trigger, IntervalBlocksTrigger):
        return None, _next_step(since_block, trigger.blocks, height)
    if isinstance(trigger, ConditionTrigger):
        return None, _next_step(since_block, trigger.every_blocks, height)
    assert isinstance(trigger, EventTrigger)
    return None, None


def _next_step(start: int, every: int, after: int) -> int:
    """The first ``start + k * every`` (k >= 1) strictly after ``after``."""
    return start + max(1, (after - start) // every + 1) * every


def runs_left(balance: int, cost_per_run: int) -> int:
    """How many runs the balance pays for at ``cost_per_run`` (both in the same GAS fractions)."""
    if cost_per_run <= 0:
        raise ValueError("the cost of a run must be positive")
    return max(0, balance) // cost_per_run


def low_balance(balance: int, cost_per_run: int, warn_runs: int = 10) -> bool:
    """Whether the balance pays for fewer than ``warn_runs`` runs: time to warn the owner."""
    return runs_left(balance, cost_per_run) < warn_runs


def lateness_blocks(due_block: int, run_block: int) -> int:
    """Blocks between the block an occurrence was due in and the block its run landed in (never negative)."""
    return max(0, run_block - due_block)
