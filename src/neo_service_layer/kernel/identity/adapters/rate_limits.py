"""Rate limiting with the ``limits`` library: in-process memory by default, Redis when configured.

With ``NSL_REDIS_URL`` set, every replica counts in the same Redis keys (prefixed with
``NSL_RATE_LIMIT_NAMESPACE``), so a limit holds across replicas. When the storage fails, the request is
allowed and the failure logged: rate limiting protects capacity, and an outage of Redis should not
become an outage of the API (sign-in lockout lives in the database and does not depend on this).
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from neo_service_layer.kernel.identity.rules.rate_limits import RateDecision
from neo_service_layer.kernel.observability.logs import get_logger

log = get_logger("nsl.ratelimit")

STRATEGIES: dict[str, type[RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}


@functools.lru_cache(maxsize=256)
def parse_limit(text: str) -> RateLimitItem:
    """``"100/minute"`` -> a limit item; ``ValueError`` when it does not parse."""
    item: RateLimitItem = parse(text)
    return item


class LimitsRateLimiter:
    """Implements ``ports.rate_limits.RateLimiter``."""

    def __init__(
        self, storage: Storage, strategy: str = "moving-window", pool: ConnectionPool | None = None
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown rate-limit strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
        self._storage = storage
        self._limiter: RateLimiter = STRATEGIES[strategy](storage)
        self._pool = pool

    @classmethod
    def in_memory(cls, strategy: str = "moving-window") -> LimitsRateLimiter:
        return cls(MemoryStorage(wrap_exceptions=True), strategy)

    @classmethod
    def redis(cls, url: str, *, namespace: str, strategy: str = "moving-window") -> LimitsRateLimiter:
        pool = ConnectionPool.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        scheme, sep, rest = url.partition("://")
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            f"async+{scheme}{sep}{rest}",
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=namespace,
            **options,
        )
        return cls(storage, strategy, pool)

    async def hit(self, limit: str, *identity: str) -> RateDecision:
        item = parse_limit(limit)
        try:
            allowed = await self._limiter.hit(item, *identity)
            stats = await self._limiter.get_window_stats(item, *identity)
        except (StorageError, OSError, TimeoutError) as exc:
            log.warning("rate-limit storage failed; request allowed", error=type(exc).__name__)
            return RateDecision(allowed=True, limit=item.amount, remaining=item.amount, reset_after=0)
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        return RateDecision(
            allowed=bool(allowed),
            limit=item.amount,
            remaining=max(0, int(stats.remaining)),
            reset_after=reset_after,
        )

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        timer = getattr(self._storage, "timer", None)
        if timer is not None and not timer.done():
            timer.cancel()
