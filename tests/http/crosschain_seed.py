"""Cross-chain messages in several states, written through the real store as the worker's watchers,
relays and outbox relay write them (shared by the HTTP and browser tests of the message view)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.services.crosschain.adapters.store import SqlCrosschainStore
from neo_service_layer.services.crosschain.rules import Executed, Message, ReceiptStored, Sent

N3, NEOX = 2**63 + 42, 31337
SENDER, RECEIVER = bytes.fromhex("ab" * 20), bytes.fromhex("cd" * 20)
REVERT = "receiver threw an exception"
SEND_ERROR = "RPC: insufficient funds for gas"
PAUSED = "waiting: DeliveringPaused"
#: the relayer's note on the failed message's receipt, given back: it must not replace ``REVERT``
RECEIPT_WAIT = "waiting: chain_unavailable: the enclave's node has not confirmed the execution"
REFUSAL = "refused by the gateway: UnknownSourceContract"

#: what each seeded message becomes: executed (receipt stored), failed (its receipt given back by the
#: relayer), delivering with a send error, given back while its direction is paused, refused (N3 -> Neo X);
#: waiting, delivering (Neo X -> N3)
STATES = {
    f"{N3}-1": "executed",
    f"{N3}-2": "failed",
    f"{N3}-3": "delivering",
    f"{N3}-4": "seen",
    f"{N3}-5": "refused",
    f"{NEOX}-1": "seen",
    f"{NEOX}-2": "delivering",
}
#: newest seen first: the Neo X messages were read after the N3 ones
NEWEST_FIRST = [f"{NEOX}-2", f"{NEOX}-1", *(f"{N3}-{n}" for n in (5, 4, 3, 2, 1))]


def _tx(n: int) -> SignedTransaction:
    return SignedTransaction(f"0x{n:064x}", b"raw", 500, 1, 1)


def _sent(src: int, nonce: int, dest: int) -> Sent:
    return Sent(
        src, nonce, SENDER, dest, RECEIVER, b"ping", 200_000, 10**6, 10, f"0x{src % 1000:04x}{nonce:060x}"
    )


async def seed_messages(engine: AsyncEngine, now: datetime) -> None:
    """The messages of ``STATES``, as of ``now`` (leases run ten minutes from it)."""
    store = SqlCrosschainStore(engine)
    until = now + timedelta(minutes=10)
    await store.apply_block(
        "seed:n3", 10, [_sent(N3, n, NEOX) for n in range(1, 6)], now - timedelta(seconds=60)
    )
    await store.apply_block(
        "seed:neox", 11, [_sent(NEOX, n, N3) for n in (1, 2)], now - timedelta(seconds=50)
    )

    to_neox: dict[int, Message] = {
        m.nonce: m for m in await store.claim_deliveries(NEOX, "w1", now, until, 10)
    }
    for n in (1, 2, 3):
        assert await store.write_delivery(to_neox[n], "w1", "crosschain-evm", _tx(n), now)
    await store.mark_sent(_tx(3).tx_hash, now, SEND_ERROR)
    executions = [
        Executed(N3, 1, 1, True, b"echo:ping", 20, "0x" + "e1" * 32),
        Executed(N3, 2, 1, False, REVERT.encode(), 20, "0x" + "e2" * 32),
    ]
    await store.apply_block("seed:neox", 20, executions, now)
    await store.apply_block("seed:n3", 21, [ReceiptStored(N3, 1, 1, 21, "0x" + "f1" * 32)], now)
    await store.release(to_neox[4], "w1", now + timedelta(minutes=5), PAUSED)
    assert await store.refuse(to_neox[5], "w1", REFUSAL, now)
    [receipt] = await store.claim_receipts(N3, "w1", now, until, 10)  # the failed one's is due
    await store.release(receipt, "w1", now + timedelta(minutes=5), RECEIPT_WAIT)

    to_n3 = {m.nonce: m for m in await store.claim_deliveries(N3, "w1", now, until, 10)}
    await store.release(to_n3[1], "w1", now)
    assert await store.write_delivery(to_n3[2], "w1", "crosschain-n3", _tx(102), now)
    await store.mark_sent(_tx(102).tx_hash, now, None)
