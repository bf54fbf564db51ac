"""A tenant's key catalogue under load: concurrent misses share one read, and near its expiry one
request reads it again while the others are answered from the cache."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Self

from neo_service_layer.kernel.cache.adapters.memory import MemoryCache
from neo_service_layer.services.keys.rules import ManagedKey
from neo_service_layer.services.keys.use_cases.tenant_keys import TenantKeys, keys_tag
from tests.unit.identity.fakes import FakeClock
from tests.unit.keys.fakes import FakeAudit, FakeCrypto, FakeUnitOfWork, Store
from tests.unit.keys.test_key_lifecycle import key


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SlowUnitOfWork(FakeUnitOfWork):
    """Yields to the event loop on entry, as a database round trip does, so that reads overlap."""

    async def __aenter__(self) -> Self:
        entered = await super().__aenter__()  # the snapshot of the store this read sees
        for _ in range(3):
            await asyncio.sleep(0)
        return entered


def _keys(
    store: Store, ticker: Ticker
) -> tuple[TenantKeys, list[str | None], MemoryCache[tuple[ManagedKey, ...]]]:
    reads: list[str | None] = []

    def uow(tenant_id: str | None) -> SlowUnitOfWork:
        reads.append(tenant_id)
        return SlowUnitOfWork(store, tenant_id)

    cache = MemoryCache[tuple[ManagedKey, ...]](
        "key_catalogue", ttl_seconds=1.0, max_entries=10, monotonic=ticker
    )
    keys = TenantKeys(
        uow=uow,
        audit=FakeAudit(),  # type: ignore[arg-type]
        clock=FakeClock(),
        crypto=FakeCrypto(),  # type: ignore[arg-type]
        max_age=timedelta(days=90),
        catalogue=cache,
    )
    return keys, reads, cache


async def test_concurrent_misses_share_one_read() -> None:
    store = Store(keys={"k_1": key()}, tenants=["acme"])
    keys, reads, _ = _keys(store, Ticker())
    listings = await asyncio.gather(*[keys.catalogue("acme") for _ in range(20)])
    assert {tuple(k.key_id for k in listing) for listing in listings} == {("k_1",)}
    assert len(reads) == 1


async def test_near_its_expiry_one_request_reads_again_and_the_others_are_served() -> None:
    store = Store(keys={"k_1": key()}, tenants=["acme"])
    ticker = Ticker()
    keys, reads, _ = _keys(store, ticker)
    await keys.catalogue("acme")
    ticker.now += 0.7  # 0.3 s of 1 s left: not due
    await asyncio.gather(*[keys.catalogue("acme") for _ in range(20)])
    assert len(reads) == 1
    store.keys["k_2"] = key(key_id="k_2")  # written by another process: this cache is not told
    ticker.now += 0.1  # due
    listings = await asyncio.gather(*[keys.catalogue("acme") for _ in range(20)])
    assert len(reads) == 2  # one read for twenty requests
    assert len(listings[0]) == 2  # the request that read
    assert {len(listing) for listing in listings[1:]} == {1}  # the others: the cache, meanwhile
    ticker.now += 0.3  # past the old expiry (101.0), early in the new one (until 101.8)
    assert len(await keys.catalogue("acme")) == 2
    assert len(reads) == 2


async def test_a_read_begun_before_an_invalidation_is_not_joined() -> None:
    store = Store(keys={"k_1": key()}, tenants=["acme"])
    keys, reads, cache = _keys(store, Ticker())
    first = asyncio.create_task(keys.catalogue("acme"))
    await asyncio.sleep(0)  # the first read has begun
    store.keys["k_2"] = key(key_id="k_2")
    await cache.invalidate(keys_tag("acme"))
    second = await keys.catalogue("acme")
    assert len(second) == 2
    assert len(reads) == 2
    assert len(await first) == 1
    kept = cache.get("acme")
    assert kept is not None
    assert len(kept) == 2  # the read begun before the invalidation was not kept
