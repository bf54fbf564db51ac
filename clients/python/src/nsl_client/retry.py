"""When and how long to wait before trying a request again: exponential backoff with full jitter,
``Retry-After`` (seconds or an HTTP date) honoured, a bounded number of attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: methods a server may see twice without harm (RFC 9110 section 9.2.2)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date); ``None`` if absent
    or unreadable. A date in the past means no wait."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` counts the first try. A ``Retry-After`` longer than ``max_retry_after`` is not
    waited for: the error is raised instead."""

    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 10.0
    max_retry_after: float = 60.0
    statuses: frozenset[int] = frozenset({429, 503})
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in ``[0, min(max_delay, base_delay * 2**attempt)]`` (attempt from 0)."""
        return self.rng.uniform(0.0, min(self.max_delay, self.base_delay * 2**attempt))

    def status_delay(self, attempt: int, retry_after: str | None) -> float | None:
        """Seconds before the next try after a retryable status, or ``None``: give up."""
        if attempt + 1 >= self.max_attempts:
            return None
        asked = parse_retry_after(retry_after)
        if asked is None:
            return self.backoff(attempt)
        if asked > self.max_retry_after:
            return None
        # never earlier than the server asked; jitter on top spreads the clients it refused together
        return asked + self.rng.uniform(0.0, self.base_delay)

    def transport_delay(self, attempt: int, method: str, has_idempotency_key: bool) -> float | None:
        """Seconds before retrying after a connection error, or ``None``: only a request the server may
        see twice (an idempotent method, or one carrying an idempotency key) is sent again."""
        if attempt + 1 >= self.max_attempts:
            return None
        if method.upper() not in IDEMPOTENT_METHODS and not has_idempotency_key:
            return None
        return self.backoff(attempt)
