"""The in-process cache: TTL + LRU, tag index, generation guard, hit and miss counters.

Alone it serves one process (the TTL bounds how long another process's write can go unseen). With an
:class:`~neo_service_layer.kernel.cache.ports.InvalidationBus` it publishes its invalidations to the
other replicas and serves nothing while the bus is not healthy (a missed invalidation is never served).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from neo_service_layer.kernel.cache.ports import InvalidationBus
from neo_service_layer.kernel.observability.metrics import CacheMetrics

#: the share of the time to live, at its end, in which a value is due for its refresh (``expiring``)
REFRESH_AHEAD = 0.25


@dataclass(slots=True)
class _Entry[V]:
    value: V
    expires: float
    tags: tuple[str, ...]


class MemoryCache[V]:
    """Implements ``ports.Cache``; not thread-safe (one event loop per process uses it)."""

    def __init__(
        self,
        name: str,
        *,
        ttl_seconds: float,
        max_entries: int,
        metrics: CacheMetrics | None = None,
        bus: InvalidationBus | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries < 1:
            raise ValueError("a cache needs a positive TTL and room for one entry")
        self.name = name
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._by_tag: dict[str, set[str]] = {}
        self._generation = 0
        self._monotonic = monotonic
        self._bus = bus
        self._hits = metrics.hits.labels(name) if metrics else None
        self._misses = metrics.misses.labels(name) if metrics else None
        self._invalidations = metrics.invalidations.labels(name) if metrics else None
        if bus is not None:
            bus.register(name, self.drop)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is not None and (self._monotonic() >= entry.expires or not self._trusted()):
            self._forget(key)
            entry = None
        if entry is None:
            if self._misses is not None:
                self._misses.inc()
            return None
        self._entries.move_to_end(key)
        if self._hits is not None:
            self._hits.inc()
        return entry.value

    def expiring(self, key: str) -> bool:
        entry = self._entries.get(key)
        if entry is None:
            return False
        left = entry.expires - self._monotonic()
        return 0 < left <= self._ttl * REFRESH_AHEAD

    def generation(self) -> int:
        return self._generation

    def put(self, key: str, value: V, tags: Iterable[str], generation: int) -> None:
        if generation != self._generation or not self._trusted():
            return
        self._forget(key)
        entry = _Entry(value, self._monotonic() + self._ttl, tuple(tags))
        self._entries[key] = entry
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self._max:
            self._forget(next(iter(self._entries)))

    async def invalidate(self, *tags: str) -> None:
        self.drop(tags)
        if self._bus is not None:
            await self._bus.publish(self.name, tags)

    def drop(self, tags: tuple[str, ...]) -> None:
        """Drop the values carrying any of ``tags`` (``()``: all), in this process only."""
        self._generation += 1
        if self._invalidations is not None:
            self._invalidations.inc()
        if not tags:
            self._entries.clear()
            self._by_tag.clear()
            return
        for tag in tags:
            for key in tuple(self._by_tag.get(tag, ())):
                self._forget(key)

    def _trusted(self) -> bool:
        return self._bus is None or self._bus.healthy

    def _forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
