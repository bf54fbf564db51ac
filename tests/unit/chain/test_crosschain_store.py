"""The cross-chain store on SQLite and PostgreSQL: blocks applied once, attempts and receipts only forward,
leases, the outbox write in the message's transaction, the outbox's retries moving messages back, and the
relayer's notes kept apart from the outcome's reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.tables import chain_outbox
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.services.crosschain.adapters.store import SqlCrosschainStore
from neo_service_layer.services.crosschain.adapters.view import SqlMessageView
from neo_service_layer.services.crosschain.rules import (
    Executed,
    Message,
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
    view = SqlMessageView(engine)
    assert [s.message.nonce for s, _ in await view.by_sender(N3, SENDER, None, 10)] == [1, 2]
    assert [s.message.nonce for s, _ in await view.by_sender(N3, SENDER, 1, 10)] == [2]
    assert await view.by_sender(N3, RECEIVER, None, 10) == []


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
    assert (waiting.reason, waiting.relay_note) == (None, "waiting: DeliveringPaused")


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


async def test_a_failed_message_whose_receipt_is_given_back_keeps_its_revert_reason(
    engine: AsyncEngine,
) -> None:
    """The relayer gives back the receipt of a message that already ran: its note is its own, and the
    receiver's revert reason stays the outcome (it was written over before)."""
    store = SqlCrosschainStore(engine)
    await store.apply_block("c", 11, [_sent(1)], NOW)
    failed = Executed(N3, 1, 1, False, b"receiver threw an exception", 5, "0x" + "aa" * 32)
    await store.apply_block("x", 5, [failed], NOW)
    until = NOW + timedelta(seconds=30)
    [due] = await store.claim_receipts(N3, "w1", NOW, until, 10)
    await store.release(due, "w1", NOW + timedelta(seconds=5), "receipt refused: no such execution")
    message = await store.get(N3, 1)
    assert message is not None
    assert (message.status, message.reason, message.relay_note) == (
        MessageStatus.FAILED,
        "receiver threw an exception",
        "receipt refused: no such execution",
    )
    # given back without a note: the note goes, the revert reason stays
    later = NOW + timedelta(seconds=6)
    [due] = await store.claim_receipts(N3, "w1", later, later + timedelta(seconds=30), 10)
    await store.release(due, "w1", later)
    message = await store.get(N3, 1)
    assert message is not None
    assert (message.reason, message.relay_note) == ("receiver threw an exception", None)
    # given back again, then carried: writing the receipt ends the wait, the revert reason stays
    [due] = await store.claim_receipts(N3, "w1", later, later + timedelta(seconds=30), 10)
    await store.release(due, "w1", later, "waiting: StaleReceipt")
    [due] = await store.claim_receipts(N3, "w1", later, later + timedelta(seconds=30), 10)
    assert await store.write_receipt(due, "w1", "crosschain-n3", _tx(7), later)
    message = await store.get(N3, 1)
    assert message is not None
    assert (message.receipt_status, message.reason, message.relay_note) == (
        ReceiptStatus.SENDING,
        "receiver threw an exception",
        None,
    )


async def test_a_note_lasts_only_until_the_message_moves_on(engine: AsyncEngine) -> None:
    """Each move ends the wait a note told of: a delivery written, an execution read, a refusal, the
    latest attempt's receipt stored (an older attempt's receipt leaves the latest's note)."""
    store = SqlCrosschainStore(engine)
    await store.apply_block("c", 11, [_sent(1), _sent(2), _sent(3)], NOW)

    async def note_of(nonce: int) -> str | None:
        message = await store.get(N3, nonce)
        assert message is not None
        return message.relay_note

    await store.release(await _claimed(store, 1), "w1", NOW, "waiting: DeliveringPaused")
    again = await _claimed(store, 1)
    assert again.relay_note == "waiting: DeliveringPaused"  # a claim leaves it
    assert await store.write_delivery(again, "w1", "crosschain-evm", _tx(1), NOW)
    assert await note_of(1) is None

    carried = "carried by someone else (AlreadyDelivered); reading its outcome"
    await store.release(await _claimed(store, 2), "w1", NOW, carried)
    await store.apply_block("x", 5, [Executed(N3, 2, 1, True, b"ok", 5, "0x" + "bb" * 32)], NOW)
    assert await note_of(2) is None

    await store.release(await _claimed(store, 3), "w1", NOW, "waiting: UnknownRoute")
    assert await store.refuse(await _claimed(store, 3), "w1", "refused by the gateway: Malformed", NOW)
    refused = await store.get(N3, 3)
    assert refused is not None
    assert (refused.reason, refused.relay_note) == ("refused by the gateway: Malformed", None)

    # message 2 ran again; the first attempt's receipt leaves the second's note, the second's ends it
    await store.apply_block("x", 6, [Executed(N3, 2, 2, True, b"ok", 6, "0x" + "cc" * 32)], NOW)
    [due] = await store.claim_receipts(N3, "w1", NOW, NOW + timedelta(seconds=30), 10)
    await store.release(due, "w1", NOW, "waiting: the enclave's node is behind")
    await store.apply_block("c", 12, [ReceiptStored(N3, 2, 1, 12, "0x" + "dd" * 32)], NOW)
    assert await note_of(2) == "waiting: the enclave's node is behind"
    await store.apply_block("c", 13, [ReceiptStored(N3, 2, 2, 13, "0x" + "ee" * 32)], NOW)
    assert await note_of(2) is None


async def _claimed(store: SqlCrosschainStore, nonce: int) -> Message:
    """Message ``nonce`` claimed by ``w1`` for delivery (the others claimed with it are given back)."""
    claimed = {
        m.nonce: m for m in await store.claim_deliveries(NEOX, "w1", NOW, NOW + timedelta(seconds=30), 10)
    }
    for other in claimed.values():
        if other.nonce != nonce:
            await store.release(other, "w1", NOW, other.relay_note)
    return claimed[nonce]
