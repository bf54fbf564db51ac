"""Sending answers to on-chain requests so that a consumer's faulting callback never blocks them.

Every gateway contract stores an answer in ``fulfill`` and calls the consumer in ``deliver`` (NeoVM
cannot catch a callee's ABORT). A service sends ``[fulfill; deliver]`` for a whole group when the group's
dry-run halts within the GAS cap; otherwise each request alone, falling back to
``[fulfill; markCallbackFailed(reason)]``, then ``fulfill`` alone, and only if even that faults is the
request marked failed with the VM's reason — nothing whose dry-run faults is ever sent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

from neo_service_layer.kernel.chain.ports.chain import Chain, ChainObserver, ContractCall, DryRun, SendOutcome
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import ChainRequest, Fulfilment
from neo_service_layer.kernel.clock import Clock

REASON_LIMIT = 256


class Answer(Protocol):
    @property
    def request(self) -> ChainRequest[Any, Any]: ...


class CallbackDelivery[T: Answer, A](ABC):
    """Base of the fulfillers: subclasses say how to fulfil one answer and what to record for it.

    ``T`` is a claimed request with its answer, ``A`` the answer as the service's payloads store it.
    """

    service: ClassVar[str]
    contract: str
    worker_id: str
    _chain: Chain
    _store: RequestStore[Any, A]
    _clock: Clock
    _observer: ChainObserver
    _max_callback_gas: int

    @abstractmethod
    def _fulfill(self, answer: T) -> ContractCall:
        """The contract's ``fulfill`` call carrying this answer and its signature."""

    @abstractmethod
    def _fulfilment(self, answer: T, with_delivery: bool, failure: str | None = None) -> Fulfilment[A]:
        """What the outbox records for this answer."""

    def _deliver(self, answer: T) -> ContractCall:
        return ContractCall(self.contract, "deliver", (answer.request.request_id,))

    def _gas_ok(self, dry: DryRun, requests: int) -> bool:
        return dry.gas_consumed <= self._max_callback_gas * requests

    async def _send_group(self, group: list[T]) -> None:
        calls = [c for a in group for c in (self._fulfill(a), self._deliver(a))]
        dry = await self._chain.dry_run(calls)
        if dry.halted and self._gas_ok(dry, len(group)):
            await self._send(calls, dry, [self._fulfilment(a, True) for a in group])
            return
        for answer in group:  # something in the group faults: find out which, one by one
            await self._send_single(answer)

    async def _send_single(self, answer: T) -> None:
        rid = answer.request.request_id
        with_delivery = [self._fulfill(answer), self._deliver(answer)]
        dry = await self._chain.dry_run(with_delivery)
        if dry.halted and self._gas_ok(dry, 1):
            await self._send(with_delivery, dry, [self._fulfilment(answer, True)])
            return
        reason = (
            f"callback faults: {dry.exception}"
            if not dry.halted
            else f"callback needs more than the GAS cap ({dry.gas_consumed})"
        )[:REASON_LIMIT]
        marked = [self._fulfill(answer), ContractCall(self.contract, "markCallbackFailed", (rid, reason))]
        dry = await self._chain.dry_run(marked)
        if dry.halted:
            await self._send(marked, dry, [self._fulfilment(answer, False, reason)])
            return
        alone = [self._fulfill(answer)]
        dry = await self._chain.dry_run(alone)
        if dry.halted:
            await self._send(alone, dry, [self._fulfilment(answer, False, reason)])
            return
        failed = await self._store.mark_failed(
            self.service, self.contract, self.worker_id, rid, dry.exception or "FAULT", self._clock.now()
        )
        if failed:
            self._observer.request_outcome(self.service, "failed")

    async def _send(self, calls: list[ContractCall], dry: DryRun, fulfilments: list[Fulfilment[A]]) -> None:
        """Record the signed transaction in the outbox (lease re-checked), then send it."""
        tx = await self._chain.build_transaction(calls, dry)
        now = self._clock.now()
        if not await self._store.write_outbox(
            self.service, self.contract, self.worker_id, now, tx, fulfilments
        ):
            self._observer.transaction_outcome(self.service, "lease_lost")
            return  # another worker owns these requests now: this transaction is dropped unsent
        result = await self._chain.send(tx.raw)
        error = result.detail if result.outcome is SendOutcome.REJECTED else None
        await self._store.mark_sent(tx.tx_hash, self._clock.now(), error)
        self._observer.transaction_outcome(self.service, result.outcome.value)
