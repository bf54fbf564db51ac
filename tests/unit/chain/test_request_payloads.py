"""Each service's request payloads live in its own table and move with the pipeline's rows: written in the
same database transactions (SQLite and PostgreSQL), read back with claims and reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.chain.adapters.payloads import RequestPayloads
from neo_service_layer.kernel.chain.adapters.request_events import INSERT_CHUNK
from neo_service_layer.kernel.chain.adapters.request_store import NO_PAYLOAD, SqlRequestStore
from neo_service_layer.kernel.chain.adapters.tables import chain_outbox, chain_requests
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import Fulfilment, NewRequest, RequestStatus
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.rules import NativeParams, NativeResult, NeoResponseCode
from neo_service_layer.services.oracle.adapters.payloads import OraclePayloads
from neo_service_layer.services.oracle.adapters.tables import oracle_requests
from neo_service_layer.services.oracle.rules import OracleParams, OracleResult
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.adapters.tables import randomness_requests
from neo_service_layer.services.randomness.rules import RandomnessParams, RandomnessResult
from tests.unit.chain.fakes import CONTRACT, FakeClock

LEASE = timedelta(seconds=30)
CONSUMER = "0x" + "cd" * 20


@dataclass(frozen=True)
class Service:
    name: str
    payloads: Callable[[], RequestPayloads[Any, Any]]
    asked: Callable[[int], Any]
    answer: Callable[[int], Any]


SERVICES = [
    Service(
        "randomness",
        RandomnessPayloads,
        lambda i: RandomnessParams(i % 100 + 1, bytes([i % 256]) * 32),
        lambda i: RandomnessResult(bytes([i % 256]) * 32, b"\x01" * 96),
    ),
    Service(
        "oracle",
        OraclePayloads,
        lambda i: OracleParams(f"https://api.example/{i}?q=é", "$.p" if i % 2 else ""),
        lambda i: OracleResult(0x14 if i % 2 else 0, b'{"n": %d}' % i, 1_767_225_600_000 + i),
    ),
    Service(
        "native-oracle",
        NativeOraclePayloads,
        lambda i: NativeParams(f"https://api.example/{i}", None if i % 2 else "$.p"),
        lambda i: NativeResult(NeoResponseCode.NOT_FOUND if i % 2 else NeoResponseCode.SUCCESS, b"[%d]" % i),
    ),
]


@pytest.fixture(params=SERVICES, ids=[s.name for s in SERVICES])
def service(request: pytest.FixtureRequest) -> Service:
    found: Service = request.param
    return found


def new(service: Service, ids: Sequence[int], block: int = 1) -> list[NewRequest[Any]]:
    return [NewRequest(i, CONSUMER, service.asked(i), block, f"0x{i:064x}") for i in ids]


def tx(number: int) -> SignedTransaction:
    return SignedTransaction(f"0x{number:064x}", b"raw-%d" % number, 100, 1, 1)


async def seen(store: SqlRequestStore[Any, Any], service: Service, ids: Sequence[int]) -> None:
    await store.apply_block("c", service.name, CONTRACT, 1, None, new(service, ids), [], FakeClock().now())


async def test_what_was_asked_and_answered_comes_back_with_claims_and_reads(
    engine: AsyncEngine, service: Service
) -> None:
    store = SqlRequestStore(engine, service.payloads())
    clock = FakeClock()
    await seen(store, service, range(4))
    claimed = await store.claim(service.name, CONTRACT, "w1", clock.now(), clock.now() + LEASE, 10)
    assert [(r.request_id, r.asked, r.answer) for r in claimed] == [
        (i, service.asked(i), None) for i in range(4)
    ]

    one = Fulfilment(0, service.answer(0), True)
    assert await store.write_outbox(service.name, CONTRACT, "w1", clock.now(), tx(0), [one])
    batch = [(tx(i), [Fulfilment(i, service.answer(i), True)]) for i in (1, 2)]
    assert await store.write_outboxes(service.name, CONTRACT, "w1", clock.now(), batch) == [True, True]
    rows = [await store.get(service.name, CONTRACT, i) for i in range(4)]
    assert [(r.asked, r.answer, r.status) for r in rows if r is not None] == [
        (service.asked(0), service.answer(0), RequestStatus.FULFILLING),
        (service.asked(1), service.answer(1), RequestStatus.FULFILLING),
        (service.asked(2), service.answer(2), RequestStatus.FULFILLING),
        (service.asked(3), None, RequestStatus.SEEN),
    ]


async def test_a_rebuilt_fulfilment_replaces_the_answer(engine: AsyncEngine, service: Service) -> None:
    store = SqlRequestStore(engine, service.payloads())
    clock = FakeClock()
    await seen(store, service, [7])
    await store.claim(service.name, CONTRACT, "w1", clock.now(), clock.now() + LEASE, 1)
    await store.write_outbox(
        service.name, CONTRACT, "w1", clock.now(), tx(1), [Fulfilment(7, service.answer(1), True)]
    )
    assert await store.outbox_retry(tx(1).tx_hash, "expired", clock.now()) == 1
    await store.claim(service.name, CONTRACT, "w1", clock.now(), clock.now() + LEASE, 1)
    await store.write_outbox(
        service.name, CONTRACT, "w1", clock.now(), tx(2), [Fulfilment(7, service.answer(2), True)]
    )
    row = await store.get(service.name, CONTRACT, 7)
    assert row is not None
    assert (row.answer, row.attempts, row.tx_hash) == (service.answer(2), 2, tx(2).tx_hash)


async def test_a_burst_larger_than_one_insert_is_stored_whole_and_once(engine: AsyncEngine) -> None:
    service = SERVICES[0]
    store = SqlRequestStore(engine, service.payloads())
    ids = range(INSERT_CHUNK * 2 + 7)
    burst = new(service, ids)
    first = await store.apply_block("c", service.name, CONTRACT, 5, None, burst, [], FakeClock().now())
    again = await store.apply_block("c", service.name, CONTRACT, 5, None, burst, [], FakeClock().now())
    assert [t.request_id for t in first] == list(ids)
    assert again == []
    async with engine.connect() as conn:
        stored = (await conn.execute(select(func.count()).select_from(randomness_requests))).scalar_one()
    assert stored == len(ids)
    last = await store.get(service.name, CONTRACT, ids[-1])
    assert last is not None
    assert last.asked == service.asked(ids[-1])


async def test_an_id_twice_in_one_block_keeps_the_first_event(engine: AsyncEngine) -> None:
    service = SERVICES[1]
    store = SqlRequestStore(engine, service.payloads())
    twice = [*new(service, [3]), NewRequest(3, CONSUMER, OracleParams("https://other.example", ""), 1, "0xb")]
    moved = await store.apply_block("c", service.name, CONTRACT, 1, None, twice, [], FakeClock().now())
    assert [t.request_id for t in moved] == [3]
    row = await store.get(service.name, CONTRACT, 3)
    assert row is not None
    assert row.asked == service.asked(3)


class FailingPayloads(RandomnessPayloads):
    """Writes like the randomness payloads, then fails: nothing of the transaction may remain."""

    async def insert_asked(
        self, conn: AsyncConnection, contract: str, asked: Sequence[tuple[int, RandomnessParams]]
    ) -> None:
        await super().insert_asked(conn, contract, asked)
        raise RuntimeError("payload table unavailable")

    async def record_answers(
        self, conn: AsyncConnection, contract: str, answers: Sequence[tuple[int, RandomnessResult]]
    ) -> None:
        await super().record_answers(conn, contract, answers)
        raise RuntimeError("payload table unavailable")


async def test_a_failing_payload_write_leaves_neither_request_nor_cursor(engine: AsyncEngine) -> None:
    service = SERVICES[0]
    failing = SqlRequestStore(engine, FailingPayloads())
    with pytest.raises(RuntimeError, match="unavailable"):
        await failing.apply_block(
            "c", service.name, CONTRACT, 1, None, new(service, [1]), [], FakeClock().now()
        )
    assert await failing.cursor("c") is None
    assert await failing.count_by_status(service.name, CONTRACT) == {}
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(randomness_requests))).scalar_one() == 0


async def test_a_failing_answer_write_leaves_the_request_seen_and_no_outbox_entry(
    engine: AsyncEngine,
) -> None:
    service, clock = SERVICES[0], FakeClock()
    store = SqlRequestStore(engine, RandomnessPayloads())
    failing = SqlRequestStore(engine, FailingPayloads())
    await seen(store, service, [1, 2])
    await store.claim(service.name, CONTRACT, "w1", clock.now(), clock.now() + LEASE, 2)
    with pytest.raises(RuntimeError, match="unavailable"):
        await failing.write_outbox(
            service.name, CONTRACT, "w1", clock.now(), tx(1), [Fulfilment(1, service.answer(1), True)]
        )
    with pytest.raises(RuntimeError, match="unavailable"):
        await failing.write_outboxes(
            service.name, CONTRACT, "w1", clock.now(), [(tx(2), [Fulfilment(2, service.answer(2), True)])]
        )
    rows = [await store.get(service.name, CONTRACT, i) for i in (1, 2)]
    assert [(r.status, r.answer, r.tx_hash) for r in rows if r is not None] == [
        (RequestStatus.SEEN, None, None)
    ] * 2
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(chain_outbox))).scalar_one() == 0


async def test_a_request_whose_payload_row_is_missing_is_failed_when_claimed_not_retried(
    engine: AsyncEngine,
) -> None:
    """A damaged database: the service's row of request 2 is gone. It can never be answered."""
    service, clock = SERVICES[1], FakeClock()
    store = SqlRequestStore(engine, service.payloads())
    await seen(store, service, [1, 2])
    async with engine.begin() as conn:
        await conn.execute(delete(oracle_requests).where(oracle_requests.c.request_id == 2))
    claimed = await store.claim(service.name, CONTRACT, "w1", clock.now(), clock.now() + LEASE, 10)
    assert [r.request_id for r in claimed] == [1]
    clock.advance(LEASE.total_seconds() + 1)
    again = await store.claim(service.name, CONTRACT, "w2", clock.now(), clock.now() + LEASE, 10)
    assert [r.request_id for r in again] == [1]  # request 2 does not come back
    async with engine.connect() as conn:
        status, reason, owner = (
            await conn.execute(
                select(
                    chain_requests.c.status, chain_requests.c.failure_reason, chain_requests.c.lease_owner
                ).where(chain_requests.c.request_id == 2)
            )
        ).one()
    assert (status, reason, owner) == (RequestStatus.FAILED.value, NO_PAYLOAD, None)
    assert await store.get(service.name, CONTRACT, 2) is None
