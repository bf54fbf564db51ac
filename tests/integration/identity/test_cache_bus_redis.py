"""The Redis invalidation bus: delivery to the other replica, liveness, and no trust without Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from neo_service_layer.kernel.cache.adapters.memory import MemoryCache
from neo_service_layer.kernel.cache.adapters.redis_bus import RedisInvalidationBus


async def test_an_unreachable_redis_leaves_the_cache_untrusted() -> None:
    bus = RedisInvalidationBus.from_url("redis://127.0.0.1:1/0", "nowhere")
    cache = MemoryCache[str]("t", ttl_seconds=60, max_entries=10, bus=bus)
    await bus.start(ready_within=0.2)
    try:
        assert not bus.healthy
        cache.put("a", "A", [], cache.generation())
        assert cache.get("a") is None
        await cache.invalidate("x")  # the publish fails, logged; nothing raises
    finally:
        await bus.aclose()


@pytest.mark.redis
async def test_an_invalidation_reaches_the_other_replica_and_not_its_sender(redis_url: str) -> None:
    channel = f"nsl-test-bus-{uuid.uuid4().hex}"
    buses = [RedisInvalidationBus.from_url(redis_url, channel) for _ in range(2)]
    caches = [MemoryCache[str]("t", ttl_seconds=60, max_entries=10, bus=bus) for bus in buses]
    for bus in buses:
        await bus.start()
    try:
        assert all(bus.healthy for bus in buses)
        for cache in caches:
            cache.put("a", "A", ["user:1"], cache.generation())
        sender_generation = caches[0].generation()
        await caches[0].invalidate("user:1")
        for _ in range(100):
            if caches[1].get("a") is None:
                break
            await asyncio.sleep(0.02)
        assert caches[1].get("a") is None
        assert caches[0].generation() == sender_generation + 1  # its own message is not applied twice
        await asyncio.sleep(1.5)  # longer than the staleness bound: only pongs keep it healthy
        assert buses[1].healthy
    finally:
        for bus in buses:
            await bus.aclose()
