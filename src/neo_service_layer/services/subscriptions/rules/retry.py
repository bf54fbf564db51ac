"""When a failed webhook delivery is tried again: exponential backoff with full jitter over about three
days, then the dead-letter list.

The n-th retry waits a uniformly random time in ``[MIN_DELAY, SCHEDULE[n-1]]`` seconds (full jitter;
past the schedule's end the last cap repeats). A delivery whose first attempt was ``GIVE_UP_AFTER``
(72 h) ago or more, or that failed ``MAX_ATTEMPTS`` times, is not retried: it is dead-lettered.
"""

from __future__ import annotations

#: the caps of the waits before the retries (seconds): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h
SCHEDULE: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000, 50400)
#: the shortest wait (full jitter may draw close to zero)
MIN_DELAY = 1
#: no retry once the first attempt is this old (seconds)
GIVE_UP_AFTER = 72 * 3600
#: attempts in all, at most
MAX_ATTEMPTS = 16


def retry_cap(attempts: int) -> int:
    """The longest wait after the ``attempts``-th failed attempt."""
    return SCHEDULE[min(max(attempts, 1), len(SCHEDULE)) - 1]


def next_retry(
    attempts: int, first_attempt_at: float, now: float, draw: float, max_attempts: int = MAX_ATTEMPTS
) -> float | None:
    """The time of the next attempt after ``attempts`` failed ones, or ``None``: dead-letter it.

    ``draw`` is uniform in [0, 1) (the caller's random source); ``max_attempts`` is at most
    ``MAX_ATTEMPTS`` (``NSL_SUBSCRIPTIONS_MAX_ATTEMPTS``)."""
    if attempts >= min(max_attempts, MAX_ATTEMPTS) or now - first_attempt_at >= GIVE_UP_AFTER:
        return None
    cap = retry_cap(attempts)
    return now + max(MIN_DELAY, draw * cap)
