"""Tenant events carried by a fulfilment (a compute run's owner hears of the run) are published in the
transaction that writes the answer to the outbox: once when it is written, never when the lease was
lost; one write at a time and batched, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import Fulfilment
from neo_service_layer.kernel.events.rules import COMPUTE_RUN_COMPLETED, TenantEvent
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.rules import RandomnessResult
from neo_service_layer.services.randomness.use_cases import RandomnessStore
from tests.http.events_support import events_of
from tests.unit.chain.fakes import CONTRACT, FakeClock, requested

SERVICE = randomness.SERVICE
LEASE = timedelta(seconds=30)
WHEN = datetime(2026, 12, 3, tzinfo=UTC)


def answered(request_id: int, tenant: str) -> tuple[SignedTransaction, list[Fulfilment[RandomnessResult]]]:
    tx = SignedTransaction(f"0x{request_id:064x}", bytes([request_id]) * 10, 100, 5, 7)
    event = TenantEvent(tenant, COMPUTE_RUN_COMPLETED, WHEN, {"requestId": request_id})
    result = RandomnessResult(b"out%d" % request_id, b"\x00")
    return tx, [Fulfilment(request_id, result, True, None, (event,))]


async def _claim(store: RandomnessStore, ids: range, clock: FakeClock, worker: str) -> None:
    new, _ = randomness.decode_events([requested(1, i) for i in ids])
    await store.apply_block("c", SERVICE, CONTRACT, 1, None, new, [], clock.now())
    await store.claim(SERVICE, CONTRACT, worker, clock.now(), clock.now() + LEASE, len(ids))


async def _heard(engine: AsyncEngine, tenant: str) -> list[int]:
    return [int(data["requestId"]) for _, _, data in await events_of(engine, tenant)]


async def test_events_are_published_with_the_written_answer_only(
    store: RandomnessStore, engine: AsyncEngine
) -> None:
    clock = FakeClock()
    await _claim(store, range(4), clock, "w1")
    tx, fulfilments = answered(0, "acme")
    assert await store.write_outbox(SERVICE, CONTRACT, "w1", clock.now(), tx, fulfilments)
    # a worker that lost its lease writes nothing, and publishes nothing
    tx, fulfilments = answered(1, "acme")
    assert not await store.write_outbox(SERVICE, CONTRACT, "w2", clock.now(), tx, fulfilments)
    # batched: requests 2 and 3 for two tenants, and 0 again (already written: skipped)
    batch = [answered(2, "acme"), answered(3, "globex"), answered(0, "acme")]
    assert await store.write_outboxes(SERVICE, CONTRACT, "w1", clock.now(), batch) == [True, True, False]
    assert await _heard(engine, "acme") == [0, 2]
    assert await _heard(engine, "globex") == [3]
