"""Answering an EVM service contract's requests: claim, answer, one ``fulfill`` transaction each.

The EVM contracts call the consumer inside ``fulfill`` and catch its revert, so there is no separate
delivery step as on Neo N3: a request is answered by one transaction, written to the outbox (with the
request moved to FULFILLING, while the worker still holds its lease) before it is broadcast. A call whose
dry run reverts is never sent: the contract's ``AlreadyFulfilled`` means someone answered it (the watcher
records it), an unknown request is released for a later try (this node is behind the one the watcher
read), anything else fails the request with the contract's error. A request whose fulfilment reverted on
chain ``MAX_CHAIN_FAULTS`` times is failed rather than tried again.

The claims are kept (``LeaseKeeper``) while the batch is answered and sent, so a batch that outlasts its
lease (slow oracle sources, an enclave restart) is not claimed and answered again by another worker; just
before the sends a lease that ran out unclaimed is taken back, and a request another worker took is left
to it.

A service subclasses :class:`EvmFulfiller` with how it answers a batch and names its contract's errors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from neo_service_layer.kernel.chain.ports.chain import ChainEvent, SignedTransaction
from neo_service_layer.kernel.chain.ports.evm import CallReverted, EvmSubmitter
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    ChainRequest,
    Fulfilment,
    RequestUpdate,
    lease_until,
    revert_text,
)
from neo_service_layer.kernel.chain.use_cases.lease_keeper import LeaseKeeper
from neo_service_layer.kernel.clock import Clock

#: a request whose fulfilment reverted on chain this often is failed instead of tried again
MAX_CHAIN_FAULTS = 2
REASON_LIMIT = 256
#: the contracts' errors that leave a request to the watcher or a later try
LEAVE_FOR_LATER = frozenset({"AlreadyFulfilled", "UnknownRequest"})


def fulfilled_updates(request_id: int, ok: bool, reason: bytes, event: ChainEvent) -> list[RequestUpdate]:
    """A contract's "fulfilled" event as the pipeline's updates: fulfilled, then delivered or the
    consumer's revert (the EVM contracts call the consumer inside ``fulfill``)."""
    fulfilled = RequestUpdate(request_id, ChainEventKind.FULFILLED, event.block, event.tx_hash)
    if ok:
        return [fulfilled, RequestUpdate(request_id, ChainEventKind.DELIVERED, event.block, event.tx_hash)]
    failed = RequestUpdate(
        request_id, ChainEventKind.CALLBACK_FAILED, event.block, event.tx_hash, revert_text(reason)
    )
    return [fulfilled, failed]


class EvmFulfiller[Q, A](ABC):
    """Claims a service's waiting requests on one EVM contract and sends each answer."""

    def __init__(
        self,
        store: RequestStore[Q, A],
        sender: EvmSubmitter,
        clock: Clock,
        *,
        service: str,
        contract: str,
        worker_id: str,
        lease_seconds: float,
        batch: int = 50,
        renew_every: float | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self.service = service
        self.contract = contract
        self._worker = worker_id
        self._lease = lease_seconds
        self._batch = batch
        self._renew_every = renew_every

    @abstractmethod
    async def answer(self, requests: Sequence[ChainRequest[Q, A]]) -> list[tuple[A, bytes]]:
        """Each request's answer (as stored) and the ``fulfill`` call data, in order."""

    @abstractmethod
    def revert_name(self, data: str | None) -> str | None:
        """The contract's custom error a revert carries (``AlreadyFulfilled``...), if it is one."""

    async def run_once(self) -> int:
        """Claim up to ``batch`` requests and answer them; return how many were claimed."""
        now = self._clock.now()
        claimed = await self._store.claim(
            self.service, self.contract, self._worker, now, lease_until(now, self._lease), self._batch
        )
        answerable = []
        for request in claimed:
            if request.chain_faults >= MAX_CHAIN_FAULTS:
                await self.fail(request, "fulfilment reverted on chain")
            else:
                answerable.append(request)
        if answerable:
            keeper = LeaseKeeper(
                self._store,
                self._clock,
                service=self.service,
                contract=self.contract,
                worker=self._worker,
                lease_seconds=self._lease,
                request_ids=[r.request_id for r in answerable],
                every=self._renew_every,
            )
            async with keeper:  # the claims last as long as the answers and the sends
                answers = await self.answer(answerable)
                held = await keeper.renew_now(r.request_id for r in answerable)
                for request, (answer, data) in zip(answerable, answers, strict=True):
                    if request.request_id in held:  # else another worker took it: it answers
                        await self._send(request, answer, data)
                    keeper.forget([request.request_id])
        return len(claimed)

    async def _send(self, request: ChainRequest[Q, A], answer: A, data: bytes) -> None:
        fulfilment = Fulfilment(request.request_id, answer, True)

        async def record(tx: SignedTransaction) -> bool:
            return await self._store.write_outbox(
                self.service, self.contract, self._worker, self._clock.now(), tx, [fulfilment]
            )

        try:
            await self._sender.submit(self.contract, data, record)
        except CallReverted as exc:
            error = self.revert_name(exc.data)
            if error in LEAVE_FOR_LATER:
                await self._store.release(self.service, self.contract, self._worker, [request.request_id])
            else:
                await self.fail(request, f"fulfil reverted: {error or exc.reason}")

    async def fail(self, request: ChainRequest[Any, Any], reason: str) -> None:
        await self._store.mark_failed(
            self.service,
            self.contract,
            self._worker,
            request.request_id,
            reason[:REASON_LIMIT],
            self._clock.now(),
        )
