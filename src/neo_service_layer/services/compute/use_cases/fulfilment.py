"""On-chain compute: answers ``ComputeRequested`` with the function's result, run and signed in the
enclave, through the shared pipeline (exactly once, callbacks isolated: ``CallbackDelivery``).

1. The function id names a tenant's function (``compute_function_owners``) uploaded with ``onChain``;
   the request's args (UTF-8 JSON) are its input; its granted secrets go sealed to the enclave.
2. ``compute_run`` with the request's facts runs the artefact the enclave hashed itself and signs
   ``answer_message`` (network magic, contract, request id, consumer, function id, the hash of what ran,
   args, code, time, result). A function that does not exist or may not be called on chain is answered
   with a signed ``NOT_FOUND`` (``compute_refuse``): no request stays pending.
3. ``[fulfill; deliver]`` per group of requests, with the fallbacks of ``CallbackDelivery``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from neo_service_layer.enclave.wire.compute import MAX_RESULT_BYTES, ComputeCode, ComputeFacts, ComputeRun
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.enclave.wire.randomness import script_hash_bytes
from neo_service_layer.kernel.chain.ports.chain import (
    Chain,
    ChainCallFaulted,
    ChainEvent,
    ChainObserver,
    ContractCall,
)
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    ChainRequest,
    Fulfilment,
    NewRequest,
    RequestUpdate,
    lease_until,
)
from neo_service_layer.kernel.chain.use_cases.callback_delivery import CallbackDelivery, group_answers
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.events.rules import TenantEvent
from neo_service_layer.services.compute.ports import ComputeEnclave, FunctionStore
from neo_service_layer.services.compute.rules import ComputeKey, ComputeParams, ComputeResult
from neo_service_layer.services.compute.use_cases.functions import ComputeFunctions
from neo_service_layer.services.compute.use_cases.run_events import run_event

SERVICE = "compute"

ComputeRequest = ChainRequest[ComputeParams, ComputeResult]
ComputeRequestStore = RequestStore[ComputeParams, ComputeResult]


def _script_hash_hex(value: bytes) -> str:
    return "0x" + value[::-1].hex()


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def decode_events(
    events: Sequence[ChainEvent],
) -> tuple[list[NewRequest[ComputeParams]], list[RequestUpdate]]:
    """The compute contract's events as new requests and updates (other events are ignored)."""
    new: list[NewRequest[ComputeParams]] = []
    updates: list[RequestUpdate] = []
    for event in events:
        values = event.values
        if event.name == "ComputeRequested" and len(values) == 4:
            request_id, consumer, function_id, args = values
            raw_args = args if isinstance(args, bytes) else _text(args).encode()
            params = ComputeParams(_text(function_id), raw_args)
            new.append(
                NewRequest(
                    int(request_id), _script_hash_hex(bytes(consumer)), params, event.block, event.tx_hash
                )
            )
        elif event.name == "ComputeFulfilled" and values:
            updates.append(
                RequestUpdate(int(values[0]), ChainEventKind.FULFILLED, event.block, event.tx_hash)
            )
        elif event.name == "ComputeDelivered" and values:
            updates.append(
                RequestUpdate(int(values[0]), ChainEventKind.DELIVERED, event.block, event.tx_hash)
            )
        elif event.name == "ComputeCallbackFailed" and len(values) == 2:
            updates.append(
                RequestUpdate(
                    int(values[0]),
                    ChainEventKind.CALLBACK_FAILED,
                    event.block,
                    event.tx_hash,
                    _text(values[1]),
                )
            )
    return new, updates


class ComputeAnswerer:
    """Turns an on-chain request into a signed answer through the enclave."""

    def __init__(
        self,
        enclave: Callable[[], object],
        key: ComputeKey,
        store: FunctionStore,
        functions: ComputeFunctions,
    ) -> None:
        self._enclave = enclave
        self._key = key
        self._store = store
        self._functions = functions

    def _compute(self) -> ComputeEnclave:
        enclave = self._enclave()
        if not isinstance(enclave, ComputeEnclave):
            raise TypeError("the worker's enclave client does not run functions")
        return enclave

    async def answer(
        self, facts: ComputeFacts, max_result: int | None = None
    ) -> tuple[ComputeRun, str | None]:
        """The signed answer and the tenant whose function ran (None when nothing ran); what the function
        does is a result code, never an exception. ``max_result`` (the request's maximum, from the
        contract) caps the function's ``result_bytes``, so a longer result is answered
        ``RESULT_TOO_LARGE`` rather than left to fault on chain."""
        fn = await self._store.resolve(facts.function_id) if facts.function_id.startswith("fn_") else None
        if fn is None or not fn.on_chain:
            detail = "no such function" if fn is None else "the function may not be called on chain"
            refused = await self._compute().compute_refuse(
                facts,
                int(ComputeCode.NOT_FOUND),
                detail,
                key_id=self._key.key_id,
                key_tenant=PLATFORM_KEY_OWNER,
            )
            return refused, None
        run = await self._compute().compute_run(
            tenant=fn.tenant_id,
            function_id=fn.function_id,
            digest=fn.digest,
            input_text=None,
            limits=_capped(fn.limits, max_result),
            secrets=await self._functions.sealed_secrets(fn),
            key_id=self._key.key_id,
            key_tenant=PLATFORM_KEY_OWNER,
            artifact=lambda: self._functions.artifact_bytes(fn.digest),
            chain=facts,
        )
        self._functions.observer.run(run.outcome, "onchain", run.fuel_used, run.wall_ms)
        return run, fn.tenant_id


def _capped(limits: dict[str, int], max_result: int | None) -> dict[str, int]:
    if max_result is None:
        return limits
    cap = max(1, min(max_result, MAX_RESULT_BYTES))
    return {**limits, "result_bytes": min(limits.get("result_bytes", cap), cap)}


@dataclass(frozen=True, slots=True)
class Answered:
    request: ComputeRequest
    response: ComputeRun
    #: the tenant whose function ran, who hears of the run (None: refused, nothing ran)
    owner: str | None = None

    @property
    def size(self) -> int:
        return len(self.response.result) + 250


class ComputeFulfiller(CallbackDelivery[Answered, ComputeResult]):
    """Claims seen compute requests, runs them in the enclave, and sends the fulfilments."""

    service = SERVICE

    def __init__(
        self,
        chain: Chain,
        store: ComputeRequestStore,
        answerer: ComputeAnswerer,
        clock: Clock,
        observer: ChainObserver,
        *,
        contract: str,
        worker_id: str,
        lease_seconds: float = 120.0,
        claim_limit: int = 16,
        per_transaction: int = 8,
        max_transaction_result_bytes: int = 80 * 1024,
        max_callback_gas: int = 20 * 10**8,
        run_concurrency: int = 2,
    ) -> None:
        self._chain = chain
        self._store = store
        self._answerer = answerer
        self._clock = clock
        self._observer = observer
        self.contract = contract
        self.worker_id = worker_id
        self._lease = lease_seconds
        self._limit = claim_limit
        self._per_tx = per_transaction
        self._max_bytes = max_transaction_result_bytes
        self._max_callback_gas = max_callback_gas
        self._runs = asyncio.Semaphore(run_concurrency)

    async def run_once(self) -> int:
        """Claim and answer what is waiting; return how many requests were claimed. A request whose answer
        could not be produced (enclave unreachable) is released for a later try; the first such error is
        raised after the others were sent."""
        now = self._clock.now()
        claimed = await self._store.claim(
            SERVICE, self.contract, self.worker_id, now, lease_until(now, self._lease), self._limit
        )
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._answer(r) for r in claimed), return_exceptions=True)
        answered = [Answered(r, *a) for r, a in zip(claimed, results, strict=True) if isinstance(a, tuple)]
        errors = [
            (r.request_id, a) for r, a in zip(claimed, results, strict=True) if isinstance(a, BaseException)
        ]
        if errors:
            await self._store.release(SERVICE, self.contract, self.worker_id, [rid for rid, _ in errors])
        groups = self._groups(answered)
        for index, group in enumerate(groups):
            try:
                await self._send_group(group)
            except Exception:  # this group and the ones not tried yet go back for a later run
                rest = [a.request.request_id for g in groups[index:] for a in g]
                await self._store.release(SERVICE, self.contract, self.worker_id, rest)
                raise
        if errors:
            raise errors[0][1]
        return len(claimed)

    async def _answer(self, request: ComputeRequest) -> tuple[ComputeRun, str | None]:
        asked = request.asked
        try:
            facts = ComputeFacts(
                magic=self._chain.magic,
                contract=script_hash_bytes(self.contract),
                request_id=request.request_id,
                consumer=script_hash_bytes(request.consumer),
                function_id=asked.function_id,
                args=asked.args,
            )
        except InvalidInput as exc:  # the contract bounds these; a mismatch is a bug worth seeing
            raise ValueError(f"request {request.request_id}: {exc}") from None
        max_result = await self._max_result(request.request_id)
        async with self._runs:
            return await self._answerer.answer(facts, max_result)

    async def _max_result(self, request_id: int) -> int | None:
        """The request's maximum result size (``getRequest``'s sixth value), or None if unreadable."""
        try:
            stack = await self._chain.read(ContractCall(self.contract, "getRequest", (request_id,)))
            return int(stack[0][5])
        except (ChainCallFaulted, IndexError, TypeError, ValueError):
            return None

    def _groups(self, answered: list[Answered]) -> list[list[Answered]]:
        return group_answers(answered, self._per_tx, self._max_bytes)

    def _fulfill(self, a: Answered) -> ContractCall:
        r = a.response
        return ContractCall(
            self.contract,
            "fulfill",
            (a.request.request_id, r.code, r.result, r.timestamp_ms, r.function_hash, r.signature),
        )

    def _fulfilment(
        self, a: Answered, with_delivery: bool, failure: str | None = None
    ) -> Fulfilment[ComputeResult]:
        r = a.response
        result = ComputeResult(r.code, r.result, r.timestamp_ms, r.function_hash, r.detail)
        events = () if a.owner is None else (self._run_event(a, a.owner),)
        return Fulfilment(a.request.request_id, result, with_delivery, failure, events)

    def _run_event(self, a: Answered, owner: str) -> TenantEvent:
        r, request = a.response, a.request
        where: dict[str, object] = {
            "where": "onchain",
            "contract": self.contract,
            "requestId": request.request_id,
            "consumer": request.consumer,
        }
        return run_event(owner, self._clock.now(), request.asked.function_id, r, where)
