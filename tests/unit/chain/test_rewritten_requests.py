"""A request id stored from one transaction and shown again by the chain from another: the block it was
read from was made again (a single-validator node killed before writing it, found by the chaos
benchmark). The stored row is failed with that reason instead of the chain's request being ignored."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.request_events import rewritten_reason
from neo_service_layer.kernel.chain.adapters.tables import chain_requests
from neo_service_layer.kernel.chain.rules import ChainEventKind, NewRequest, RequestStatus, RequestUpdate
from neo_service_layer.services.randomness.rules import RandomnessParams
from neo_service_layer.services.randomness.use_cases import RandomnessStore
from tests.unit.chain.fakes import CONTRACT, FakeClock

CONSUMER = "0x" + "cd" * 20
FIRST_TX, OTHER_TX = "0x" + "aa" * 32, "0x" + "bb" * 32


def request(request_id: int, tx_hash: str, block: int, seed: bytes) -> NewRequest[RandomnessParams]:
    return NewRequest(request_id, CONSUMER, RandomnessParams(1, seed), block, tx_hash)


async def apply(store: RandomnessStore, block: int, *new: NewRequest[RandomnessParams]) -> list[int]:
    moved = await store.apply_block(
        "c", "randomness", CONTRACT, block, None, list(new), [], FakeClock().now()
    )
    return [t.request_id for t in moved]


async def row(engine: AsyncEngine, request_id: int) -> tuple[str, str | None, str]:
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                select(
                    chain_requests.c.status, chain_requests.c.failure_reason, chain_requests.c.request_tx
                ).where(chain_requests.c.request_id == request_id)
            )
        ).one()
    return str(found.status), found.failure_reason, str(found.request_tx)


async def test_the_same_request_read_twice_changes_nothing(
    store: RandomnessStore, engine: AsyncEngine
) -> None:
    assert await apply(store, 5, request(1, FIRST_TX, 5, b"s" * 32)) == [1]
    assert await apply(store, 5, request(1, FIRST_TX, 5, b"s" * 32)) == []  # a second watcher, same block
    assert await row(engine, 1) == ("seen", None, FIRST_TX)


async def test_an_id_shown_again_from_another_transaction_fails_the_stored_row_with_the_reason(
    store: RandomnessStore, engine: AsyncEngine
) -> None:
    await apply(store, 5, request(1, FIRST_TX, 5, b"s" * 32), request(2, "0x" + "cc" * 32, 5, b"t" * 32))
    # the node lost block 5 and made it again: request 1 is now another transaction (another seed)
    assert await apply(store, 6, request(1, OTHER_TX, 6, b"u" * 32)) == []
    status, reason, stored_tx = await row(engine, 1)
    assert (status, stored_tx) == ("failed", FIRST_TX)
    assert reason == rewritten_reason(1, FIRST_TX, OTHER_TX)
    assert "answer it by hand" in reason
    assert (await row(engine, 2))[:2] == ("seen", None)  # a request not shown again is left alone
    claimed = await store.claim("randomness", CONTRACT, "w", FakeClock().now(), FakeClock().now(), 10)
    assert [r.request_id for r in claimed] == [2]  # the stale question is never answered


async def test_a_row_already_delivered_from_a_lost_block_is_failed_too(
    store: RandomnessStore, engine: AsyncEngine
) -> None:
    await apply(store, 5, request(1, FIRST_TX, 5, b"s" * 32))
    for kind in (ChainEventKind.FULFILLED, ChainEventKind.DELIVERED):
        update = RequestUpdate(1, kind, 6, "0x" + "dd" * 32)
        await store.apply_block("c", "randomness", CONTRACT, 6, None, [], [update], FakeClock().now())
    assert (await row(engine, 1))[0] == RequestStatus.DELIVERED.value
    await apply(store, 7, request(1, OTHER_TX, 7, b"u" * 32))  # the chain's request 1 is not answered
    assert (await row(engine, 1))[0] == "failed"
