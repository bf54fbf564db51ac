"""The in-process cache: TTL, LRU bound, tags, the generation guard, counters, and an untrusted bus."""

from __future__ import annotations

from collections.abc import Awaitable

from prometheus_client import CollectorRegistry

from neo_service_layer.kernel.cache.adapters.memory import MemoryCache
from neo_service_layer.kernel.cache.ports import Dropper
from neo_service_layer.kernel.observability.metrics import CacheMetrics


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeBus:
    def __init__(self) -> None:
        self.healthy = True
        self.published: list[tuple[str, tuple[str, ...]]] = []
        self.droppers: dict[str, Dropper] = {}

    def register(self, cache_name: str, drop: Dropper) -> None:
        self.droppers[cache_name] = drop

    def publish(self, cache_name: str, tags: tuple[str, ...]) -> Awaitable[None]:
        self.published.append((cache_name, tags))

        async def done() -> None:
            return None

        return done()


def _sample(registry: CollectorRegistry, name: str) -> float:
    return registry.get_sample_value(f"nsl_cache_{name}_total", {"cache": "t"}) or 0.0


def _cache(**kw: object) -> tuple[MemoryCache[str], Ticker, CollectorRegistry]:
    ticker, registry = Ticker(), CollectorRegistry()
    cache = MemoryCache[str](
        "t",
        ttl_seconds=10,
        max_entries=3,
        metrics=CacheMetrics(registry),
        monotonic=ticker,
        **kw,  # type: ignore[arg-type]
    )
    return cache, ticker, registry


def test_hits_misses_and_ttl() -> None:
    cache, ticker, registry = _cache()
    assert cache.get("a") is None
    cache.put("a", "A", ["x"], cache.generation())
    assert cache.get("a") == "A"
    ticker.now += 10
    assert cache.get("a") is None  # expired
    assert (_sample(registry, "hits"), _sample(registry, "misses")) == (1.0, 2.0)


def test_least_recently_used_goes_first() -> None:
    cache, _, _ = _cache()
    for key in "abc":
        cache.put(key, key.upper(), [], cache.generation())
    assert cache.get("a") == "A"  # now the most recent
    cache.put("d", "D", [], cache.generation())
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == ["A", "C", "D"]


async def test_invalidation_by_tag_and_generation_guard() -> None:
    cache, _, registry = _cache()
    cache.put("a", "A", ["user:1", "key:a"], cache.generation())
    cache.put("b", "B", ["user:2"], cache.generation())
    before = cache.generation()
    await cache.invalidate("user:1")
    assert cache.get("a") is None
    assert cache.get("b") == "B"
    cache.put("c", "stale", ["user:3"], before)  # loaded before the invalidation: not stored
    assert cache.get("c") is None
    assert _sample(registry, "invalidations") == 1.0
    cache.drop(())
    assert len(cache) == 0


async def test_with_a_bus_invalidations_are_published_and_an_unhealthy_bus_serves_nothing() -> None:
    bus = FakeBus()
    cache, _, _ = _cache(bus=bus)
    cache.put("a", "A", ["user:1"], cache.generation())
    await cache.invalidate("user:1")
    assert bus.published == [("t", ("user:1",))]
    cache.put("b", "B", ["user:2"], cache.generation())
    bus.droppers["t"](("user:2",))  # another replica's invalidation
    assert cache.get("b") is None
    cache.put("c", "C", [], cache.generation())
    bus.healthy = False
    assert cache.get("c") is None  # a lost invalidation is never served
    cache.put("d", "D", [], cache.generation())
    bus.healthy = True
    assert cache.get("d") is None  # nor stored while untrusted


def test_a_value_is_expiring_in_the_last_quarter_of_its_ttl() -> None:
    cache, ticker, _ = _cache()
    assert not cache.expiring("a")  # nothing stored
    cache.put("a", "A", [], cache.generation())
    ticker.now += 7.4
    assert not cache.expiring("a")
    ticker.now += 0.2  # 2.4 s of 10 left
    assert cache.expiring("a")
    assert cache.get("a") == "A"  # still served meanwhile
    cache.put("a", "A2", [], cache.generation())  # the refresh: a whole TTL again
    assert not cache.expiring("a")
    ticker.now += 10
    assert not cache.expiring("a")  # expired is not expiring: it is gone
    assert cache.get("a") is None
