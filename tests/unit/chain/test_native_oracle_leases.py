"""The native Oracle node makes progress per request when fetches are slower than the claim's lease
(issue #19): the claims are renewed while the enclave call runs, a lease that ran out unclaimed is taken
back at the write (nothing fetched and signed is fetched again), a request another worker took is
dropped with a warning and the metric, and the answers of fast URLs are written while a slow one loads.
Real SQL store (SQLite and PostgreSQL), a fake clock, and a node whose enclave calls take as long as the
test says.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.native_oracle import NativeResponse
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.rules import RequestStatus, lease_until
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.rules import ORACLE_CONTRACT, enclave_calls
from neo_service_layer.services.native_oracle.use_cases import (
    SERVICE,
    NativeOracleFulfiller,
    NativeOracleStore,
)
from tests.unit.chain.test_native_oracle_service import URL, FakeNode, World

LEASE = 30.0


@pytest.fixture
def store(engine: AsyncEngine) -> NativeOracleStore:
    return SqlRequestStore(engine, NativeOraclePayloads())


class SlowNode(FakeNode):
    """``FakeNode`` whose enclave calls run ``during`` (with the ids asked) before answering, and that
    counts the calls in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.during: Callable[[list[int]], Awaitable[None]] | None = None
        self.in_flight = 0
        self.most_in_flight = 0

    async def respond(self, request_ids: Sequence[int]) -> list[NativeResponse]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.during is not None:
                await self.during(list(request_ids))
            return await super().respond(request_ids)
        finally:
            self.in_flight -= 1


def fulfiller(w: World, worker: str = "w1", **options: Any) -> NativeOracleFulfiller:
    return NativeOracleFulfiller(
        w.chain, w.node, w.store, w.clock, w.observer, worker_id=worker, lease_seconds=LEASE, **options
    )


async def drain(f: NativeOracleFulfiller, runs: int = 20) -> int:
    """Run as the worker's job does (``while run_once()``), bounded; return how many runs claimed."""
    for n in range(runs):
        if not await f.run_once():
            return n
    raise AssertionError(f"still claiming after {runs} runs: a livelock")


async def sent_once(w: World, ids: Sequence[int]) -> None:
    """Each request FULFILLING, with exactly one response transaction sent."""
    assert [await w.status(i) for i in ids] == [RequestStatus.FULFILLING] * len(ids)
    rids = [int(raw.split(b"-")[1]) for raw in w.chain.sent]
    assert sorted(rids) == sorted(ids)
    assert len(await w.store.pending_outbox(SERVICE)) == len(ids)


async def test_a_call_slower_than_the_lease_is_written_and_never_fetched_again(
    store: NativeOracleStore,
) -> None:
    """The livelock: fetches took longer than the lease, every write was refused as "lease lost", the
    batch was claimed and fetched again forever. Now the lease that ran out unclaimed is taken back."""
    node = SlowNode()
    w = World(store, node)
    await w.request(1, 2, 3)

    async def slower_than_the_lease(ids: list[int]) -> None:
        w.clock.advance(3 * LEASE)

    node.during = slower_than_the_lease
    f = fulfiller(w)
    assert await drain(f) == 1
    assert node.asked == [[1, 2, 3]]  # fetched once
    await sent_once(w, [1, 2, 3])
    assert "lease_lost" not in w.observer.transactions


async def test_the_claims_are_renewed_while_the_enclave_call_runs(store: NativeOracleStore) -> None:
    node = SlowNode()
    w = World(store, node)
    await w.request(1, 2)
    taken: list[list[int]] = []
    renewals: list[set[int]] = []
    renew = store.renew

    async def counted(*args: Any) -> set[int]:
        held = await renew(*args)
        renewals.append(held)
        return held

    store.renew = counted  # type: ignore[method-assign, assignment]

    async def long_fetch(ids: list[int]) -> None:
        for _ in range(6):  # three leases in all, half a lease at a time
            w.clock.advance(LEASE / 2)
            seen = len(renewals)
            async with asyncio.timeout(10):  # the keeper renews every 10 ms: wait for one begun since
                while len(renewals) < seen + 2:
                    await asyncio.sleep(0.01)
            other = await store.claim(SERVICE, ORACLE_CONTRACT, "w2", w.clock.now(), w.clock.now(), 10)
            taken.append([r.request_id for r in other])

    node.during = long_fetch
    assert await drain(fulfiller(w, renew_every=0.01)) == 1
    assert taken == [[]] * 6  # no other worker could claim them meanwhile
    assert {1, 2} in renewals
    assert node.asked == [[1, 2]]
    await sent_once(w, [1, 2])


async def test_a_request_another_worker_took_is_dropped_with_a_warning_and_answered_once(
    store: NativeOracleStore, caplog: pytest.LogCaptureFixture
) -> None:
    """w1 stalls past its lease without renewing; w2 claims and answers the requests meanwhile: w1's
    signed responses are dropped unsent (metric and warning), each request is answered once, by w2."""
    node = SlowNode()
    w = World(store, node)
    await w.request(1, 2)
    other = fulfiller(w, "w2")

    async def stall(ids: list[int]) -> None:
        node.during = None  # w2's call is quick
        w.clock.advance(2 * LEASE)
        assert await other.run_once() == 2

    node.during = stall
    caplog.set_level(logging.WARNING)
    assert await fulfiller(w).run_once() == 2
    assert node.asked == [[1, 2], [1, 2]]
    await sent_once(w, [1, 2])  # w2's responses only
    assert w.chain.sent == [b"response-1-1", b"response-2-1"]  # built in w2's call, the first to finish
    assert w.observer.transactions.count("lease_lost") == 2
    warnings = [r for r in caplog.records if "lease lost" in r.getMessage()]
    assert len(warnings) == 1
    assert "[1, 2]" in warnings[0].getMessage()


async def test_fast_urls_are_written_while_a_slow_url_still_loads(store: NativeOracleStore) -> None:
    node = SlowNode()
    w = World(store, node)
    await w.request(1, 2, url="https://fast.example/a")
    await w.request(3, url="https://slow.example/b")
    release = asyncio.Event()

    async def slow_url(ids: list[int]) -> None:
        if 3 in ids:
            await release.wait()

    node.during = slow_url
    run = asyncio.create_task(fulfiller(w, urls_per_call=1).run_once())
    for _ in range(200):
        if len(w.chain.sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert w.chain.sent == [b"response-1-1", b"response-2-1"]  # written and sent before 3 answered
    assert await w.status(3) is RequestStatus.SEEN
    release.set()
    assert await run == 3
    assert sorted(node.asked) == [[1, 2], [3]]  # one call per URL: each fetched once
    await sent_once(w, [1, 2, 3])


async def test_a_burst_to_many_urls_is_answered_once_each_in_bounded_calls(store: NativeOracleStore) -> None:
    node = SlowNode()
    w = World(store, node)
    for i in range(250):
        await w.request(i, url=f"https://host{i}.example/price")

    async def some_latency(ids: list[int]) -> None:
        await asyncio.sleep(0.01)

    node.during = some_latency
    assert await drain(fulfiller(w, urls_per_call=16, calls_in_flight=4)) == 1
    assert len(node.asked) == 16  # ceil(250 / 16) calls, each of at most 16 URLs
    assert max(len(ids) for ids in node.asked) == 16
    assert node.most_in_flight == 4
    await sent_once(w, list(range(250)))


async def test_renewing_keeps_this_workers_leases_and_takes_back_none_another_worker_holds(
    store: NativeOracleStore,
) -> None:
    w = World(store)
    await w.request(1, 2, 3, 4)
    now = w.clock.now()
    claimed = await store.claim(SERVICE, ORACLE_CONTRACT, "w1", now, lease_until(now, LEASE), 2)
    assert [r.request_id for r in claimed] == [1, 2]
    w.clock.advance(2 * LEASE)  # both leases ran out; w2 takes the oldest
    later = w.clock.now()
    taken = await store.claim(SERVICE, ORACLE_CONTRACT, "w2", later, lease_until(later, LEASE), 1)
    assert [r.request_id for r in taken] == [1]
    held = await store.renew(SERVICE, ORACLE_CONTRACT, "w1", [1, 2, 3], lease_until(later, LEASE))
    assert held == {2}  # 1 is w2's now, 3 was never w1's
    rest = await store.claim(SERVICE, ORACLE_CONTRACT, "w3", later, lease_until(later, LEASE), 10)
    assert [r.request_id for r in rest] == [3, 4]  # 2 is w1's again


def test_enclave_calls_keep_a_urls_requests_together_and_bound_urls_and_ids() -> None:
    pairs = [(1, "a"), (2, "b"), (3, "a"), (4, "c"), (5, "d"), (6, "c")]
    assert enclave_calls(pairs, urls_per_call=2, ids_per_call=256) == [[1, 3, 2], [4, 6, 5]]
    assert enclave_calls(pairs, urls_per_call=16, ids_per_call=256) == [[1, 3, 2, 4, 6, 5]]
    assert enclave_calls(pairs, urls_per_call=16, ids_per_call=3) == [[1, 3, 2], [4, 6, 5]]
    one_url = [(i, URL) for i in range(300)]  # more than one call takes: split, in order
    assert enclave_calls(one_url, urls_per_call=16, ids_per_call=256) == [
        list(range(256)),
        list(range(256, 300)),
    ]
    assert enclave_calls([], urls_per_call=16, ids_per_call=256) == []
