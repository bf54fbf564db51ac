"""A burst costs a few statements, not a few per request: one transaction's requests are moved to
FULFILLING together, and a block's fulfilled / delivered events are applied in batches. SQLite has one
writer at a time, and a statement per request held that lock through a 500-run automation burst while
every other writer waited (bench/RESULTS.md, "Automation"). The guarantees stay: all or nothing when a
lease is gone, each request's events in their order, each transition reported once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.request_events import update_batches
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    Fulfilment,
    RequestStatus,
    RequestUpdate,
)
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.rules import RandomnessResult
from neo_service_layer.services.randomness.use_cases import RandomnessStore
from tests.unit.chain.fakes import CONTRACT, FakeClock, requested

SERVICE = randomness.SERVICE
F, D = ChainEventKind.FULFILLED, ChainEventKind.DELIVERED


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements ``engine`` executes meanwhile (an ``executemany`` counts once)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def seeded(store: RandomnessStore, ids: range, clock: FakeClock, worker: str = "w1") -> None:
    new, _ = randomness.decode_events([requested(1, i) for i in ids])
    await store.apply_block("c", SERVICE, CONTRACT, 1, None, new, [], clock.now())
    until = clock.now() + timedelta(seconds=30)
    assert len(await store.claim(SERVICE, CONTRACT, worker, clock.now(), until, len(ids))) == len(ids)


def answers(ids: range) -> list[Fulfilment[RandomnessResult]]:
    return [Fulfilment(i, RandomnessResult(b"out%d" % i, b"\x00"), True) for i in ids]


TX = SignedTransaction("0x" + "ab" * 32, b"\x01" * 10, 100, 5, 7)


async def test_one_transaction_of_64_requests_is_written_with_a_few_statements(
    store: RandomnessStore, engine: AsyncEngine
) -> None:
    clock = FakeClock()
    await seeded(store, range(64), clock)
    with counted(engine) as statements:
        assert await store.write_outbox(SERVICE, CONTRACT, "w1", clock.now(), TX, answers(range(64)))
    assert statements.count("UPDATE") + statements.count("INSERT") <= 4  # was 64 updates + 2
    assert await store.count_by_status(SERVICE, CONTRACT) == {RequestStatus.FULFILLING: 64}
    row = await store.get(SERVICE, CONTRACT, 63)
    assert row is not None
    assert (row.tx_hash, row.with_delivery, row.answer) == (TX.tx_hash, True, answers(range(64))[63].answer)
    assert [e.tx_hash for e in await store.pending_outbox(SERVICE)] == [TX.tx_hash]


async def test_a_transaction_with_one_request_no_longer_leased_writes_nothing(
    store: RandomnessStore,
) -> None:
    clock = FakeClock()
    await seeded(store, range(3), clock)
    await store.release(SERVICE, CONTRACT, "w1", [1])  # its lease is gone (another worker may take it)
    assert not await store.write_outbox(SERVICE, CONTRACT, "w1", clock.now(), TX, answers(range(3)))
    assert await store.count_by_status(SERVICE, CONTRACT) == {RequestStatus.SEEN: 3}
    assert await store.pending_outbox(SERVICE) == []


async def test_a_transaction_whose_leases_ran_out_writes_nothing(store: RandomnessStore) -> None:
    clock = FakeClock()
    await seeded(store, range(3), clock)
    clock.advance(31)
    assert not await store.write_outbox(SERVICE, CONTRACT, "w1", clock.now(), TX, answers(range(3)))
    assert await store.count_by_status(SERVICE, CONTRACT) == {RequestStatus.SEEN: 3}


async def test_a_request_named_twice_in_one_transaction_writes_nothing(store: RandomnessStore) -> None:
    clock = FakeClock()
    await seeded(store, range(2), clock)
    twice = [*answers(range(2)), *answers(range(1, 2))]
    assert not await store.write_outbox(SERVICE, CONTRACT, "w1", clock.now(), TX, twice)
    assert await store.pending_outbox(SERVICE) == []


async def test_requests_answered_with_and_without_delivery_in_one_transaction(
    store: RandomnessStore,
) -> None:
    clock = FakeClock()
    await seeded(store, range(2), clock)
    result = RandomnessResult(b"o", b"\x00")
    mixed = [Fulfilment(0, result, True), Fulfilment(1, result, False, "callback faults: x")]
    assert await store.write_outbox(SERVICE, CONTRACT, "w1", clock.now(), TX, mixed)
    first, second = await store.get(SERVICE, CONTRACT, 0), await store.get(SERVICE, CONTRACT, 1)
    assert first is not None
    assert second is not None
    assert (first.with_delivery, first.callback_failure) == (True, None)
    assert (second.with_delivery, second.callback_failure) == (False, "callback faults: x")


async def test_a_block_that_fulfilled_and_delivered_a_burst_is_applied_in_a_few_statements(
    store: RandomnessStore, engine: AsyncEngine
) -> None:
    clock = FakeClock()
    await seeded(store, range(200), clock)
    assert await store.write_outbox(SERVICE, CONTRACT, "w1", clock.now(), TX, answers(range(200)))
    updates = [
        RequestUpdate(i, kind, 2, TX.tx_hash) for i in range(200) for kind in (F, D)
    ]  # as a watcher reads them: each request's fulfilment, then its delivery
    with counted(engine) as statements:
        moved = await store.apply_block("c", SERVICE, CONTRACT, 2, None, [], updates, clock.now())
    assert statements.count("UPDATE") <= 4  # fulfilled, outbox included, delivered, cursor (was 600)
    assert sorted((t.request_id, t.status) for t in moved) == sorted(
        (i, s) for i in range(200) for s in (RequestStatus.FULFILLED, RequestStatus.DELIVERED)
    )
    assert await store.count_by_status(SERVICE, CONTRACT) == {RequestStatus.DELIVERED: 200}
    assert await store.pending_outbox(SERVICE) == []  # the transaction is marked included
    again = await store.apply_block("c", SERVICE, CONTRACT, 2, None, [], updates, clock.now())
    assert again == []  # read twice (a replica, a restart): reported once


def test_batches_keep_each_requests_events_in_order() -> None:
    pairs = [RequestUpdate(i, kind, 5, "0xt") for i in range(3) for kind in (F, D)]
    assert [[(u.request_id, u.kind) for u in b] for b in update_batches(pairs)] == [
        [(0, F), (1, F), (2, F)],
        [(0, D), (1, D), (2, D)],
    ]
    # request 1 delivered before request 0 is fulfilled: 0's fulfilment cannot join a later batch
    crossed = [RequestUpdate(1, F, 5, "0xa"), RequestUpdate(1, D, 5, "0xa"), RequestUpdate(0, F, 5, "0xa")]
    batches = update_batches(crossed)
    order = {(u.request_id, u.kind): n for n, b in enumerate(batches) for u in b}
    assert order[(1, F)] < order[(1, D)]
    # the same event twice (a request fulfilled in two transactions of a block): two statements, in order
    twice = [RequestUpdate(0, F, 5, "0xa"), RequestUpdate(0, F, 5, "0xa")]
    assert [len(b) for b in update_batches(twice)] == [1, 1]
    # a different transaction or reason is a different statement
    apart = [RequestUpdate(0, F, 5, "0xa"), RequestUpdate(1, F, 5, "0xb")]
    assert [len(b) for b in update_batches(apart)] == [1, 1]
