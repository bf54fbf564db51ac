"""Batched outbox writes (a burst of native Oracle answers): the same lease rules as one write at a time,
in one database transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.adapters.tables import chain_outbox, chain_requests
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import Fulfilment, RequestStatus
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.rules import RandomnessResult
from neo_service_layer.services.randomness.use_cases import RandomnessStore
from tests.unit.chain.fakes import CONTRACT, FakeClock, requested

SERVICE = randomness.SERVICE
LEASE = timedelta(seconds=30)


def answer(request_id: int) -> tuple[SignedTransaction, list[Fulfilment[RandomnessResult]]]:
    tx = SignedTransaction(f"0x{request_id:064x}", bytes([request_id]) * 10, 100, 5, 7)
    return tx, [Fulfilment(request_id, RandomnessResult(b"out%d" % request_id, b"\x00"), True)]


async def claimed(store: RandomnessStore, ids: range, clock: FakeClock, worker: str = "w1") -> None:
    new, _ = randomness.decode_events([requested(1, i) for i in ids])
    await store.apply_block("c", SERVICE, CONTRACT, 1, None, new, [], clock.now())
    got = await store.claim(SERVICE, CONTRACT, worker, clock.now(), clock.now() + LEASE, len(ids))
    assert [r.request_id for r in got] == list(ids)


async def outbox(engine: AsyncEngine) -> dict[str, tuple[int, str | None]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(chain_outbox))).all()
    return {r.tx_hash: (int(r.send_count), r.last_error) for r in rows}


async def test_a_batch_is_written_marked_sent_and_relayable_like_single_writes(
    store: RandomnessStore, engine: AsyncEngine
) -> None:
    clock = FakeClock()
    await claimed(store, range(5), clock)
    items = [answer(i) for i in range(5)]
    assert await store.write_outboxes(SERVICE, CONTRACT, "w1", clock.now(), items) == [True] * 5
    assert await store.count_by_status(SERVICE, CONTRACT) == {RequestStatus.FULFILLING: 5}
    row = await store.get(SERVICE, CONTRACT, 3)
    assert row is not None
    assert row.tx_hash == items[3][0].tx_hash
    assert row.answer == RandomnessResult(b"out3", b"\x00")
    pending = await store.pending_outbox(SERVICE)
    assert sorted(e.tx_hash for e in pending) == sorted(tx.tx_hash for tx, _ in items)
    assert {e.raw for e in pending} == {tx.raw for tx, _ in items}

    await store.mark_sent_many(
        [(items[0][0].tx_hash, None), (items[1][0].tx_hash, "rejected: fee")], clock.now()
    )
    sent = await outbox(engine)
    assert sent[items[0][0].tx_hash] == (1, None)
    assert sent[items[1][0].tx_hash] == (1, "rejected: fee")
    assert sent[items[2][0].tx_hash] == (0, None)


async def test_items_whose_lease_is_gone_or_taken_are_skipped_and_the_rest_written(
    store: RandomnessStore, engine: AsyncEngine
) -> None:
    clock = FakeClock()
    await claimed(store, range(3), clock)
    await claimed(store, range(3, 4), clock, worker="w2")  # another worker's request
    items = [answer(0), answer(3), answer(1), answer(1)]  # the second answer to request 1 comes too late
    written = await store.write_outboxes(SERVICE, CONTRACT, "w1", clock.now(), items)
    assert written == [True, False, True, False]
    assert set(await outbox(engine)) == {items[0][0].tx_hash, items[2][0].tx_hash}
    other = await store.get(SERVICE, CONTRACT, 3)
    assert other is not None
    assert other.status is RequestStatus.SEEN
    assert other.tx_hash is None

    clock.advance(LEASE.total_seconds() + 1)  # request 2's lease ran out: nothing is written for it
    assert await store.write_outboxes(SERVICE, CONTRACT, "w1", clock.now(), [answer(2)]) == [False]
    assert await store.count_by_status(SERVICE, CONTRACT) == {
        RequestStatus.FULFILLING: 2,
        RequestStatus.SEEN: 2,
    }


@pytest.fixture
async def sqlite_engine(make_settings: Callable[..., Settings]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(make_settings())
    await upgrade_to_head(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_on_sqlite_a_lease_taken_between_read_and_update_falls_back_to_item_by_item(
    sqlite_engine: AsyncEngine,
) -> None:
    """A second writer steals request 1 after the batch read the leases and before it updates them: the
    row count shows it, the batch is rolled back and written item by item, so request 1 is not."""
    engine = sqlite_engine  # PostgreSQL locks the leases it read (FOR UPDATE): no window to race in there
    store = SqlRequestStore(engine, RandomnessPayloads())
    clock = FakeClock()
    await claimed(store, range(3), clock)
    path = engine.url.database
    assert path
    stolen: list[str] = []

    def steal(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if many and statement.startswith("UPDATE chain_requests") and not stolen:
            with closing(sqlite3.connect(path)) as other, other:
                other.execute("UPDATE chain_requests SET lease_owner = 'w2' WHERE request_id = 1")
            stolen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", steal)
    try:
        items = [answer(i) for i in range(3)]
        written = await store.write_outboxes(SERVICE, CONTRACT, "w1", clock.now(), items)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", steal)
    assert stolen
    assert written == [True, False, True]
    assert set(await outbox(engine)) == {items[0][0].tx_hash, items[2][0].tx_hash}
    async with engine.connect() as conn:
        owner, status = (
            await conn.execute(
                select(chain_requests.c.lease_owner, chain_requests.c.status).where(
                    chain_requests.c.request_id == 1
                )
            )
        ).one()
    assert (owner, status) == ("w2", RequestStatus.SEEN.value)
    answers = [(await store.get(SERVICE, CONTRACT, i)) for i in range(3)]
    assert [a.answer if a is not None else "missing" for a in answers] == [
        items[0][1][0].answer,
        None,  # the batch's answer for the stolen request was rolled back with it
        items[2][1][0].answer,
    ]
