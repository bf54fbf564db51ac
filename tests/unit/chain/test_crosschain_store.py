"""The cross-chain store on SQLite and PostgreSQL: blocks applied once, attempts and receipts only forward,
leases, the outbox write in the message's transaction, and the outbox's retries moving messages back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.tables import chain_outbox
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.services.crosschain.adapters.store import SqlCrosschainStore
from neo_service_layer.services.crosschain.rules import (
    Executed,
    MessageStatus,
    ReceiptStatus,
    ReceiptStored,
    Sent,
)

N3, NEOX = 2**63 + 42, 31337
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SENDER, RECEIVER = b"\x01" * 20, b"\x02" * 20


def _sent(nonce: int, sender: bytes = SENDER) -> Sent:
    return Sent(N3, nonce, sender, NEOX, RECEIVER, b"ping", 200_000, 10**6, 10 + nonce, f"0x{nonce:064x}")


def _tx(n: int) -> SignedTransaction:
    return SignedTransaction(f"0x{n:064x}", b"raw", 0, 1, 1)


async def test_a_block_read_twice_records_each_message_once(engine: AsyncEngine) -> None:
    store = SqlCrosschainStore(engine)
    for _ in range(2):
        await store.apply_block("c", 11, [_sent(1), _sent(2)], NOW)
    assert await store.cursor("c") == 11
    first = await store.get(N3, 1)
    assert first is not None
    assert (first.status, first.dest_chain, first.payload, first.fee) == (
        MessageStatus.SEEN,
        NEOX,
        b"ping",
        10**6,
    )
    assert first.id == f"{N3}-1"
    assert [m.nonce for m in await store.by_sender(N3, SENDER, None, 10)] == [1, 2]
    assert [m.nonce for m in await store.by_sender(N3, SENDER, 1, 10)] == [2]
    assert await store.by_sender(N3, RECEIVER, None, 10) == []


async def test_attempts_and_receipts_only_move_forward(engine: AsyncEngine) -> None:
    store = SqlCrosschainStore(engine)
    await store.apply_block("c", 11, [_sent(1)], NOW)
    failed = Executed(N3, 1, 1, False, b"receiver threw an exception", 5, "0x" + "aa" * 32)
    for _ in range(2):  # the same execution read again changes nothing
        await store.apply_block("x", 5, [failed], NOW)
    message = await store.get(N3, 1)
    assert message is not None
    assert (message.status, message.attempts, message.reason) == (
        MessageStatus.FAILED,
        1,
        "receiver threw an exception",
    )
    assert message.receipt_status is ReceiptStatus.DUE
    ok = Executed(N3, 1, 2, True, b"echo:ping", 9, "0x" + "bb" * 32)
    await store.apply_block("x", 9, [ok, failed], NOW)  # an older attempt after a newer one: ignored
    message = await store.get(N3, 1)
    assert message is not None
    assert (message.status, message.attempts, message.result, message.dest_tx) == (
        MessageStatus.EXECUTED,
        2,
        b"echo:ping",
        "0x" + "bb" * 32,
    )
    # the first attempt's receipt leaves the second one due; the second's settles it
    await store.apply_block("c", 12, [ReceiptStored(N3, 1, 1, 12, "0x" + "cc" * 32)], NOW)
    message = await store.get(N3, 1)
    assert message is not None
    assert (message.receipt_status, message.receipt_attempt) == (ReceiptStatus.DUE, 1)
    await store.apply_block("c", 13, [ReceiptStored(N3, 1, 2, 13, "0x" + "dd" * 32)], NOW)
    message = await store.get(N3, 1)
    assert message is not None
    assert (message.receipt_status, message.receipt_attempt, message.receipt_block) == (
        ReceiptStatus.STORED,
        2,
        13,
    )


async def test_a_delivery_is_written_with_its_lease_and_retried_when_its_transaction_cannot_count(
    engine: AsyncEngine,
) -> None:
    store = SqlCrosschainStore(engine)
    await store.apply_block("c", 11, [_sent(1), _sent(2)], NOW)
    until = NOW + timedelta(seconds=30)
    claimed = await store.claim_deliveries(NEOX, "w1", NOW, until, 10)
    assert [m.nonce for m in claimed] == [1, 2]
    assert await store.claim_deliveries(NEOX, "w2", NOW, until, 10) == []  # leased
    assert await store.claim_deliveries(N3, "w2", NOW, until, 10) == []  # nothing bound for N3
    first, second = claimed
    assert not await store.write_delivery(first, "w2", "crosschain-evm", _tx(1), NOW)  # not its lease
    assert await store.write_delivery(first, "w1", "crosschain-evm", _tx(1), NOW)
    assert not await store.write_delivery(first, "w1", "crosschain-evm", _tx(9), NOW)  # once
    async with engine.connect() as conn:
        rows = (await conn.execute(select(chain_outbox.c.tx_hash, chain_outbox.c.service))).all()
    assert [tuple(r) for r in rows] == [(_tx(1).tx_hash, "crosschain-evm")]
    # replaced (same nonce, higher fees), then its nonce spent elsewhere: the message is claimed again
    assert await store.outbox_replace(_tx(1).tx_hash, _tx(2), NOW)
    message = await store.get(N3, 1)
    assert message is not None
    assert (message.status, message.deliver_tx) == (MessageStatus.DELIVERING, _tx(2).tx_hash)
    assert await store.outbox_retry(_tx(2).tx_hash, "expired", NOW) == 1
    again = await store.claim_deliveries(NEOX, "w3", NOW, until, 10)
    assert [m.nonce for m in again] == [1]  # the second is still w1's
    # released with a wait: not claimable before it, with the reason shown
    await store.release(second, "w1", NOW + timedelta(seconds=5), "waiting: DeliveringPaused")
    assert await store.claim_deliveries(
        NEOX, "w4", NOW + timedelta(seconds=31), NOW + timedelta(seconds=60), 10
    )
    waiting = await store.get(N3, 2)
    assert waiting is not None
    assert waiting.reason == "waiting: DeliveringPaused"


async def test_a_refused_message_is_never_claimed_again(engine: AsyncEngine) -> None:
    store = SqlCrosschainStore(engine)
    await store.apply_block("c", 11, [_sent(1)], NOW)
    [message] = await store.claim_deliveries(NEOX, "w1", NOW, NOW + timedelta(seconds=30), 10)
    assert await store.refuse(message, "w1", "refused by the gateway: UnknownSourceContract", NOW)
    later = NOW + timedelta(hours=1)
    assert await store.claim_deliveries(NEOX, "w1", later, later + timedelta(seconds=30), 10) == []
    refused = await store.get(N3, 1)
    assert refused is not None
    assert (refused.status, refused.reason) == (
        MessageStatus.REFUSED,
        "refused by the gateway: UnknownSourceContract",
    )
