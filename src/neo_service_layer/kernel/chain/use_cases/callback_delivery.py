"""Sending answers to on-chain requests so that a consumer's faulting callback never blocks them.

Every gateway contract stores an answer in ``fulfill`` and calls the consumer in ``deliver`` (NeoVM
cannot catch a callee's ABORT). A service sends ``[fulfill; deliver]`` for a whole group when the group's
dry-run halts within the GAS cap; otherwise each request alone, falling back to
``[fulfill; markCallbackFailed(reason)]``, then ``fulfill`` alone, and only if even that faults is the
request marked failed with the VM's reason — nothing whose dry-run faults is ever sent.

The enclave signs a transaction only within its bounds (``enclave/tx_rules.py``: a system fee of at
most 50 GAS by default); a group it refuses (``PolicyDenied``) is sent one request at a time, each
within the per-request GAS cap.

A dry-run can halt while the real block FAULTs (the state changed in between, e.g. a callback that
depends on block data). Such a request (``chain_faults >= 1``, counted by the outbox relay) is never
batched again, so it cannot make its neighbours' answers fault: after a fault in a group it is sent alone
with ``deliver``; after a fault with ``deliver`` alone, without the callback
(``[fulfill; markCallbackFailed("callback faulted on chain")]``, else ``fulfill`` alone); after a fault
without the callback it is marked failed instead of being retried forever.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from neo_service_layer.enclave.wire.keys import PolicyDenied
from neo_service_layer.kernel.chain.ports.chain import Chain, ChainObserver, ContractCall, DryRun, SendOutcome
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import ChainRequest, Fulfilment
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger

REASON_LIMIT = 256
#: the reason recorded with ``markCallbackFailed`` for a callback that faulted in a real block
CALLBACK_FAULTED_ON_CHAIN = "callback faulted on chain"
#: the reason a request is marked failed once its fulfilment without callback faulted on chain
FULFIL_FAULTED_ON_CHAIN = "fulfilment faulted on chain"

log = get_logger("nsl.chain")


def faulted_on_chain(request: ChainRequest[Any, Any]) -> bool:
    """Whether one of the request's transactions was included but FAULTed: it is never batched again."""
    return request.chain_faults >= 1


class Answer(Protocol):
    @property
    def request(self) -> ChainRequest[Any, Any]: ...


class SizedAnswer(Answer, Protocol):
    @property
    def size(self) -> int:
        """About how many bytes the answer adds to a transaction."""
        ...


def group_answers[T: SizedAnswer](answered: list[T], per_transaction: int, max_bytes: int) -> list[list[T]]:
    """Answers in transaction-sized groups of at most ``per_transaction`` and about ``max_bytes``; one that
    faulted on chain once goes alone (it is never batched with others again)."""
    groups: list[list[T]] = []
    current: list[T] = []
    size = 0
    for item in answered:
        if faulted_on_chain(item.request):
            groups.append([item])
            continue
        if current and (len(current) >= per_transaction or size + item.size > max_bytes):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        groups.append(current)
    return groups


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
        """Send ``group`` in one transaction if it can; a request that faulted on chain goes alone."""
        faulted = [a for a in group if faulted_on_chain(a.request)]
        group = [a for a in group if not faulted_on_chain(a.request)]
        if group:
            calls = [c for a in group for c in (self._fulfill(a), self._deliver(a))]
            dry = await self._chain.dry_run(calls)
            sent = False
            if dry.halted and self._gas_ok(dry, len(group)):
                try:
                    await self._send(calls, dry, [self._fulfilment(a, True) for a in group])
                    sent = True
                except PolicyDenied:  # the enclave's bounds (a group's fees): each request alone
                    if len(group) == 1:
                        raise
            if not sent:
                for answer in group:  # something in the group faults: find out which, one by one
                    await self._send_single(answer)
        for answer in faulted:
            await self._send_after_fault(answer)

    async def _send_after_fault(self, answer: T) -> None:
        """A request whose transaction faulted on chain: alone, then without callback, then failed."""
        request = answer.request
        if request.with_delivery is False:  # even without the callback it faulted in a real block
            failed = await self._store.mark_failed(
                self.service,
                self.contract,
                self.worker_id,
                request.request_id,
                f"{FULFIL_FAULTED_ON_CHAIN} ({request.chain_faults} times)",
                self._clock.now(),
            )
            if failed:
                self._observer.request_outcome(self.service, "failed")
        elif request.chain_faults == 1:  # it faulted with deliver, perhaps because of a neighbour
            await self._send_single(answer)
        else:  # it faulted alone with deliver: its callback is not tried again
            await self._send_without_callback(answer, CALLBACK_FAULTED_ON_CHAIN)

    async def _send_single(self, answer: T) -> None:
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
        await self._send_without_callback(answer, reason)

    async def _send_without_callback(self, answer: T, reason: str) -> None:
        rid = answer.request.request_id
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
        await send_through_outbox(
            OutboxSender(
                self._chain,
                self._store,
                self._clock,
                self._observer,
                self.service,
                self.contract,
                self.worker_id,
            ),
            calls,
            dry,
            fulfilments,
        )


@dataclass(frozen=True, slots=True)
class OutboxSender[A]:
    """What :func:`send_through_outbox` needs: one service's chain, store and lease holder."""

    chain: Chain
    store: RequestStore[Any, A]
    clock: Clock
    observer: ChainObserver
    service: str
    contract: str
    worker_id: str


async def send_through_outbox[A](
    sender: OutboxSender[A], calls: list[ContractCall], dry: DryRun, fulfilments: list[Fulfilment[A]]
) -> bool:
    """Record the signed transaction in the outbox (lease re-checked), then send it; False when the
    lease was lost (the transaction is dropped unsent: another worker owns these requests now)."""
    tx = await sender.chain.build_transaction(calls, dry)
    now = sender.clock.now()
    if not await sender.store.write_outbox(
        sender.service, sender.contract, sender.worker_id, now, tx, fulfilments
    ):
        sender.observer.transaction_outcome(sender.service, "lease_lost")
        ids = sorted(f.request_id for f in fulfilments)
        log.warning(  # steady, the work outlasts the lease (alert NslChainLeaseLost)
            "lease lost: signed transaction dropped unsent, the requests' lease ran out or another worker "
            "holds them",
            service=sender.service,
            requests=len(ids),
            request_ids=ids[:10],
            worker=sender.worker_id,
        )
        return False
    result = await sender.chain.send(tx.raw)
    error = result.detail if result.outcome is SendOutcome.REJECTED else None
    await sender.store.mark_sent(tx.tx_hash, sender.clock.now(), error)
    sender.observer.transaction_outcome(sender.service, result.outcome.value)
    return True
