"""The relay's decisions, over the real SQL store and recording fakes of the enclave and a destination:
a message is signed from a pointer and written before it is sent; what the gateway's dry run says decides
whether it waits, is someone else's, or is refused; a receipt is signed from the destination's execution."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.crosschain import SignedXMessage, SourcePointer, XFacts, XKind
from neo_service_layer.enclave.wire.keys import PolicyDenied
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.ports.evm import CallReverted
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected
from neo_service_layer.services.crosschain.adapters.store import SqlCrosschainStore
from neo_service_layer.services.crosschain.rules import Executed, MessageStatus, ReceiptStatus, Sent
from neo_service_layer.services.crosschain.use_cases.deliver import Record, Relay

N3, NEOX = 2**63 + 42, 31337
START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at


@dataclass
class Enclave:
    """Signs what it is pointed at, or fails as told; records every pointer."""

    pointers: list[SourcePointer] = field(default_factory=list)
    fail: Exception | None = None

    async def crosschain_sign(self, *, key_id: str, pointer: SourcePointer) -> SignedXMessage:
        self.pointers.append(pointer)
        if self.fail is not None:
            raise self.fail
        facts = XFacts(
            pointer.kind, N3, NEOX, b"\x09" * 20, pointer.nonce, b"\x01" * 20, b"\x02" * 20, 1, b"p"
        )
        return SignedXMessage(facts, b"\x00" * 32, b"\x05" * 65)


@dataclass
class Destination:
    """A gateway that records what was sent (after the outbox write) or refuses with an error name."""

    chain_id: int = NEOX
    outbox_service: str = "crosschain-evm"
    refuse: str | None = None
    sent: list[tuple[str, int]] = field(default_factory=list)
    hashes: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def _send(self, kind: str, signed: SignedXMessage, record: Record) -> None:
        if self.refuse is not None:
            raise CallReverted(self.refuse, None)
        n = next(self.hashes)  # each transaction its own hash, whatever runs at the same time
        if await record(SignedTransaction(f"0x{n:064x}", b"raw", 0, 1, 1)):
            self.sent.append((kind, signed.facts.nonce))

    async def deliver(self, signed: SignedXMessage, record: Record) -> None:
        await self._send("deliver", signed, record)

    async def deliver_receipt(self, signed: SignedXMessage, record: Record) -> None:
        await self._send("receipt", signed, record)

    def error_name(self, refusal: CallReverted) -> str:
        return refusal.reason


def _relay(store: SqlCrosschainStore, enclave: Enclave, destination: Destination, clock: Clock) -> Relay:
    return Relay(
        store, enclave, destination, clock, key_id="k", worker_id="w", lease_seconds=30,
        retry_after=timedelta(seconds=5),
    )  # fmt: skip


async def _seen(store: SqlCrosschainStore, *nonces: int) -> None:
    sent = [Sent(N3, n, b"\x01" * 20, NEOX, b"\x02" * 20, b"p", 1, 1, 3, f"0x{n:064x}") for n in nonces]
    await store.apply_block("c", 3, sent, START)


async def test_a_message_is_signed_from_its_pointer_and_written_before_it_is_sent(
    engine: AsyncEngine,
) -> None:
    store, enclave, destination, clock = SqlCrosschainStore(engine), Enclave(), Destination(), Clock()
    await _seen(store, 1, 2)
    relay = _relay(store, enclave, destination, clock)
    assert await relay.run_once() == 2
    assert sorted((p.kind, p.chain_id, p.tx_hash, p.nonce) for p in enclave.pointers) == [
        (XKind.MESSAGE, N3, f"0x{1:064x}", 1),
        (XKind.MESSAGE, N3, f"0x{2:064x}", 2),
    ]
    assert sorted(destination.sent) == [("deliver", 1), ("deliver", 2)]
    for nonce in (1, 2):
        message = await store.get(N3, nonce)
        assert message is not None
        assert message.status is MessageStatus.DELIVERING
    assert await relay.run_once() == 0  # nothing is sent twice


async def test_what_the_gateway_says_decides_the_rest(engine: AsyncEngine) -> None:
    store, enclave, clock = SqlCrosschainStore(engine), Enclave(), Clock()
    await _seen(store, 1, 2, 3)
    for nonce, error in ((1, "AlreadyDelivered"), (2, "DeliveringPaused"), (3, "UnknownSourceContract")):
        destination = Destination(refuse=error)
        relay = Relay(
            store, enclave, destination, clock, key_id="k", worker_id="w", lease_seconds=30, batch=1
        )
        await relay.run_once()
        message = await store.get(N3, nonce)
        assert message is not None
        if nonce == 1:  # someone else delivered it: it waits while the watcher reads the execution
            assert message.status is MessageStatus.SEEN
            assert message.relay_note == "carried by someone else (AlreadyDelivered); reading its outcome"
        elif nonce == 2:  # a paused direction: it waits, and says why
            assert (message.status, message.relay_note) == (MessageStatus.SEEN, "waiting: DeliveringPaused")
        else:  # the destination never takes it: refused, never sent
            assert message.status is MessageStatus.REFUSED
            assert message.reason == "refused by the gateway: UnknownSourceContract"
    # the waiting ones are claimed again only after their wait; the refused one never
    destination = Destination()
    relay = _relay(store, enclave, destination, clock)
    assert await relay.run_once() == 0
    clock.at += timedelta(seconds=6)
    await relay.run_once()
    assert sorted(destination.sent) == [("deliver", 1), ("deliver", 2)]


async def test_an_enclave_that_cannot_answer_yet_leaves_the_message_waiting(engine: AsyncEngine) -> None:
    store, clock = SqlCrosschainStore(engine), Clock()
    await _seen(store, 1, 2)
    destination = Destination()
    await _relay(
        store, Enclave(fail=EnclaveRequestRejected("chain_unavailable", "not confirmed")), destination, clock
    ).run_once()
    waiting = await store.get(N3, 1)
    assert waiting is not None
    assert waiting.status is MessageStatus.SEEN
    assert waiting.relay_note is not None
    assert "not confirmed" in waiting.relay_note
    # a pointer the enclave refuses outright (not a message of the registered gateway): refused
    clock.at += timedelta(seconds=6)
    await _relay(store, Enclave(fail=PolicyDenied("no MessageSent")), destination, clock).run_once()
    refused = await store.get(N3, 1)
    assert refused is not None
    assert refused.status is MessageStatus.REFUSED
    assert destination.sent == []


async def test_a_receipt_is_signed_from_the_destinations_execution(engine: AsyncEngine) -> None:
    store, enclave, clock = SqlCrosschainStore(engine), Enclave(), Clock()
    await _seen(store, 1)
    executed = Executed(N3, 1, 1, True, b"echo:p", 8, "0x" + "ee" * 32)
    await store.apply_block("x", 8, [executed], START)
    to_n3 = Destination(chain_id=N3, outbox_service="crosschain-n3")
    assert await _relay(store, enclave, to_n3, clock).run_once() == 1
    [pointer] = enclave.pointers
    assert (pointer.kind, pointer.chain_id, pointer.tx_hash, pointer.nonce, pointer.peer_chain) == (
        XKind.RECEIPT,
        NEOX,
        "0x" + "ee" * 32,
        1,
        N3,
    )
    assert to_n3.sent == [("receipt", 1)]
    message = await store.get(N3, 1)
    assert message is not None
    assert message.receipt_status is ReceiptStatus.SENDING


async def test_a_failed_messages_receipt_given_back_leaves_the_receivers_revert_reason(
    engine: AsyncEngine,
) -> None:
    """The relayer gives back the receipt of a message the receiver reverted (the enclave refuses it, the
    gateway says later, someone else carried it): each time its note is recorded beside the revert
    reason, which stays what the sender's receiver said."""
    store, clock = SqlCrosschainStore(engine), Clock()
    await _seen(store, 1)
    failed = Executed(N3, 1, 1, False, b"receiver threw an exception", 8, "0x" + "ee" * 32)
    await store.apply_block("x", 8, [failed], START)
    to_n3 = Destination(chain_id=N3, outbox_service="crosschain-n3")
    steps = (
        (Enclave(fail=PolicyDenied("no MessageExecuted")), to_n3, "receipt refused: no MessageExecuted"),
        (Enclave(), Destination(N3, "crosschain-n3", refuse="DeliveringPaused"), "waiting: DeliveringPaused"),
        (
            Enclave(),
            Destination(N3, "crosschain-n3", refuse="StaleReceipt"),
            "carried by someone else (StaleReceipt); reading its outcome",
        ),
    )
    for enclave, destination, note in steps:
        assert await _relay(store, enclave, destination, clock).run_once() == 1
        message = await store.get(N3, 1)
        assert message is not None
        assert (message.status, message.reason, message.relay_note) == (
            MessageStatus.FAILED,
            "receiver threw an exception",
            note,
        )
        clock.at += timedelta(seconds=6)
    assert await _relay(store, Enclave(), to_n3, clock).run_once() == 1
    assert to_n3.sent == [("receipt", 1)]
    carried = await store.get(N3, 1)
    assert carried is not None
    assert (carried.receipt_status, carried.reason, carried.relay_note) == (
        ReceiptStatus.SENDING,
        "receiver threw an exception",
        None,
    )


async def test_a_delivery_the_enclave_will_not_sign_waits_with_the_reason(engine: AsyncEngine) -> None:
    """A message whose gas limit needs more than the enclave signs for the sender is not lost or
    refused: it waits, saying why (a higher cap, or anyone else delivering it, ends the wait)."""
    store, clock = SqlCrosschainStore(engine), Clock()
    await _seen(store, 1)

    class Capped(Destination):
        async def deliver(self, signed: SignedXMessage, record: Record) -> None:
            raise PolicyDenied("gas 2300000 above the cap 2000000")

    await _relay(store, Enclave(), Capped(), clock).run_once()
    message = await store.get(N3, 1)
    assert message is not None
    assert message.status is MessageStatus.SEEN
    assert (
        message.relay_note
        == "waiting: the enclave does not sign this transaction: gas 2300000 above the cap 2000000"
    )
