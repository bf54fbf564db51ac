"""Relaying to one chain: the messages bound for it, and the receipts of the messages it sent.

For each claimed message (``Relay.run_once``):

- **delivery** (its destination is this chain): the enclave signs it from what it reads itself on the
  source chain (``crosschain_sign`` with a pointer: source chain, transaction, nonce), then ``deliver``
  goes through the destination's outbox (``Destination.deliver``: dry run, sign, record, send);
- **receipt** (it was sent from this chain and an attempt ran on the destination): the enclave signs
  the receipt from the destination's ``MessageExecuted``, then ``deliverReceipt`` goes to this chain's
  gateway, where the sender reads the result.

What the destination's dry run says decides the rest: ``AlreadyDelivered`` / a stale receipt means
someone else carried it (the watcher records it); a paused direction or an enclave or node that cannot
answer yet leaves it for a later poll, with the reason shown (the store's ``relay_note``: the outcome's
``reason`` stays the receiver's or the refusal's); anything else (the gateway refuses the
message's source, a malformed message) marks it ``refused`` with the gateway's error, and it is never
sent. A transaction the enclave will not sign for the sender (gas or fee above its caps) waits, with the
reason shown: raising the cap, or anyone else delivering it, ends the wait. One message never holds up
another: each is claimed, signed and sent on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from neo_service_layer.enclave.wire.crosschain import SignedXMessage, SourcePointer, XKind
from neo_service_layer.enclave.wire.keys import PolicyDenied
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.ports.evm import CallReverted
from neo_service_layer.kernel.chain.rules import lease_until
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.crosschain import CrossChainEnclave
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected
from neo_service_layer.services.crosschain.rules import Message

#: a gateway's errors that mean "someone else did it": the watcher will record it
CARRIED = frozenset({"AlreadyDelivered", "StaleReceipt"})
#: errors that may pass: the message waits (a paused direction, a route not set yet)
LATER = frozenset({"DeliveringPaused", "UnknownRoute"})
REASON_LIMIT = 512

Record = Callable[[SignedTransaction], Awaitable[bool]]


class Destination(Protocol):
    """One chain's gateway as the relay sends to it (``adapters/evm_gateway``, ``adapters/n3_gateway``)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def outbox_service(self) -> str:
        """The ``chain_outbox`` service name of this chain's relayed transactions."""
        ...

    async def deliver(self, signed: SignedXMessage, record: Record) -> None:
        """Dry-run, sign, ``record`` and send ``deliver``; ``CallReverted`` names the gateway's refusal."""
        ...

    async def deliver_receipt(self, signed: SignedXMessage, record: Record) -> None:
        """The same for ``deliverReceipt``."""
        ...

    def error_name(self, refusal: CallReverted) -> str:
        """The gateway's error in a refusal (its custom error, or the VM's message)."""
        ...


class RelayStore(Protocol):
    async def claim_deliveries(
        self, dest_chain: int, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[Message]: ...

    async def claim_receipts(
        self, src_chain: int, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[Message]: ...

    async def write_delivery(
        self, message: Message, worker: str, service: str, tx: SignedTransaction, now: datetime
    ) -> bool: ...

    async def write_receipt(
        self, message: Message, worker: str, service: str, tx: SignedTransaction, now: datetime
    ) -> bool: ...

    async def release(self, message: Message, worker: str, until: datetime, note: str | None = None) -> None:
        """Give the message back, claimable again from ``until``, with a note on why it waits (kept apart
        from the outcome's reason: a failed message whose receipt is given back keeps its revert reason)."""
        ...

    async def refuse(self, message: Message, worker: str, reason: str, now: datetime) -> bool: ...


class Relay:
    """Carries messages and receipts to ``destination`` (one chain)."""

    def __init__(
        self,
        store: RelayStore,
        enclave: CrossChainEnclave,
        destination: Destination,
        clock: Clock,
        *,
        key_id: str,
        worker_id: str,
        lease_seconds: float,
        retry_after: timedelta = timedelta(seconds=5),
        batch: int = 50,
        concurrency: int = 8,
    ) -> None:
        self._retry_after = retry_after
        self._concurrency = concurrency
        self._store = store
        self._enclave = enclave
        self._destination = destination
        self._clock = clock
        self._key_id = key_id
        self._worker = worker_id
        self._lease = lease_seconds
        self._batch = batch

    async def run_once(self) -> int:
        """Claim and carry what waits for this chain, ``concurrency`` at a time (the enclave reads each
        source event and signs while others are sent); how many messages were claimed."""
        now = self._clock.now()
        until = lease_until(now, self._lease)
        chain = self._destination.chain_id
        deliveries = await self._store.claim_deliveries(chain, self._worker, now, until, self._batch)
        receipts = await self._store.claim_receipts(chain, self._worker, now, until, self._batch)
        slots = asyncio.Semaphore(self._concurrency)

        async def delivery(message: Message) -> None:
            async with slots:
                pointer = SourcePointer(XKind.MESSAGE, message.src_chain, message.src_tx, message.nonce)
                await self._carry(message, pointer, receipt=False)

        async def receipt(message: Message) -> None:
            async with slots:
                if message.dest_tx is None:
                    await self._wait(message, "no execution to carry back yet")
                    return
                pointer = SourcePointer(
                    XKind.RECEIPT,
                    message.dest_chain,
                    message.dest_tx,
                    message.nonce,
                    peer_chain=message.src_chain,
                )
                await self._carry(message, pointer, receipt=True)

        await asyncio.gather(*(delivery(m) for m in deliveries), *(receipt(m) for m in receipts))
        return len(deliveries) + len(receipts)

    async def _wait(self, message: Message, note: str) -> None:
        until = self._clock.now() + self._retry_after
        await self._store.release(message, self._worker, until, note[:REASON_LIMIT])

    async def _carry(self, message: Message, pointer: SourcePointer, *, receipt: bool) -> None:
        try:
            signed = await self._enclave.crosschain_sign(key_id=self._key_id, pointer=pointer)
        except EnclaveRequestRejected as exc:  # the enclave's node is down or not confirmed yet
            await self._store.release(
                message, self._worker, self._clock.now(), f"waiting: {exc}"[:REASON_LIMIT]
            )
            return
        except PolicyDenied as exc:
            if receipt:
                note = f"receipt refused: {exc}"[:REASON_LIMIT]
                await self._store.release(message, self._worker, self._clock.now(), note)
            else:
                await self._store.refuse(
                    message, self._worker, f"the enclave refused: {exc}", self._clock.now()
                )
            return
        service = self._destination.outbox_service

        async def record(tx: SignedTransaction) -> bool:
            write = self._store.write_receipt if receipt else self._store.write_delivery
            return await write(message, self._worker, service, tx, self._clock.now())

        try:
            if receipt:
                await self._destination.deliver_receipt(signed, record)
            else:
                await self._destination.deliver(signed, record)
        except CallReverted as exc:
            error = self._destination.error_name(exc)
            if error in CARRIED:  # the watcher reads the execution meanwhile
                await self._wait(message, f"carried by someone else ({error}); reading its outcome")
            elif error in LATER or receipt:
                await self._wait(message, f"waiting: {error}")
            else:
                reason = f"refused by the gateway: {error}"
                await self._store.refuse(message, self._worker, reason, self._clock.now())
        except PolicyDenied as exc:  # the sender's signer refused (gas or fee above the enclave's caps)
            await self._wait(message, f"waiting: the enclave does not sign this transaction: {exc}")
