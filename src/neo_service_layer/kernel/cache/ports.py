"""Ports of the cache area: a tagged read-through cache and the bus that carries invalidations.

A value is stored under a key with *tags* naming what it was derived from (``api_key:<id>``,
``user:<id>``); a write that changes one of those things invalidates the tag, here and on every other
replica. ``generation`` guards the race of a load that read the old state while the write committed:
read it before loading and pass it to ``put``, which stores nothing when an invalidation came between.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol


class Cache[V](Protocol):
    name: str

    def get(self, key: str) -> V | None:
        """The live value under ``key`` (counted as a hit), or ``None`` (a miss)."""
        ...

    def expiring(self, key: str) -> bool:
        """True while the live value under ``key`` is in the last quarter of its time to live.

        A reader then loads it again while the others are still served (refresh ahead): a value read
        all the time never expires into a burst of readers all waiting for the load.
        """
        ...

    def generation(self) -> int:
        """A counter moved by every invalidation; read it before loading what ``put`` will store."""
        ...

    def put(self, key: str, value: V, tags: Iterable[str], generation: int) -> None:
        """Store ``value`` unless an invalidation happened since ``generation`` was read."""
        ...

    async def invalidate(self, *tags: str) -> None:
        """Drop every value carrying one of ``tags`` in this process and on every other replica."""
        ...


#: what a bus calls with the tags another replica invalidated (``()``: drop everything)
type Dropper = Callable[[tuple[str, ...]], None]


class InvalidationBus(Protocol):
    """Carries invalidations between replicas. While it cannot promise delivery, caches must not serve."""

    @property
    def healthy(self) -> bool:
        """True while every invalidation published by another replica will reach this one."""
        ...

    def register(self, cache_name: str, drop: Dropper) -> None: ...

    def publish(self, cache_name: str, tags: tuple[str, ...]) -> Awaitable[None]: ...
