"""The process's caches, made on one invalidation bus: Redis pub/sub when configured, else none.

Every cache of a process (principals, key metadata) shares one Redis subscription. Without Redis a
value lives at most ``LOCAL_CACHE_TTL``: another process's write (the CLI, the worker, a second API
process) is seen within it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry

from neo_service_layer.kernel.cache.adapters.memory import MemoryCache
from neo_service_layer.kernel.cache.adapters.redis_bus import RedisInvalidationBus
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.observability.metrics import CacheMetrics

#: the longest a value is served without an invalidation bus
LOCAL_CACHE_TTL = 1.0


class CacheFactory:
    """Makes named caches with the process's metrics and invalidation bus."""

    def __init__(self, *, metrics: CacheMetrics | None, bus: RedisInvalidationBus | None) -> None:
        self._metrics = metrics
        self._bus = bus

    def create[V](self, name: str, *, ttl_seconds: float, max_entries: int) -> MemoryCache[V]:
        """A cache whose values live ``ttl_seconds`` with the bus, at most ``LOCAL_CACHE_TTL`` without."""
        ttl = ttl_seconds if self._bus is not None else min(ttl_seconds, LOCAL_CACHE_TTL)
        return MemoryCache[V](
            name, ttl_seconds=ttl, max_entries=max_entries, metrics=self._metrics, bus=self._bus
        )

    def counter(self, name: str) -> Callable[[bool], None]:
        """Counts the hits (``True``) and misses of a cache kept outside this factory (a shared read)."""

        def count(hit: bool) -> None:
            if self._metrics is not None:
                (self._metrics.hits if hit else self._metrics.misses).labels(name).inc()

        return count


@asynccontextmanager
async def open_cache_factory(
    settings: Settings, registry: CollectorRegistry | None
) -> AsyncIterator[CacheFactory]:
    """The factory; with ``NSL_REDIS_URL`` its bus is subscribed before the first cache serves."""
    metrics = CacheMetrics(registry) if registry is not None else None
    if settings.redis_url is None:
        yield CacheFactory(metrics=metrics, bus=None)
        return
    bus = RedisInvalidationBus.from_url(
        settings.redis_url.get_secret_value(), settings.cache_invalidation_channel
    )
    await bus.start()
    try:
        yield CacheFactory(metrics=metrics, bus=bus)
    finally:
        await bus.aclose()
