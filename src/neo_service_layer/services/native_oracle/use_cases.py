"""A node for Neo's native Oracle contract: answers ``Oracle.request`` of any Neo dApp.

The watcher reads the native Oracle's events (``OracleRequest(Id, RequestContract, Url, Filter)`` ->
a new request; ``OracleResponse(Id, OriginalTx)`` -> fulfilled and, since the callback ran in that HALTed
transaction, delivered). For each batch of claimed requests the fulfiller asks the enclave to respond
(``ports.NativeOracleChain.respond``, the enclave's ``native_oracle_respond``): the enclave reads each
request from its own node, fetches and filters the URL itself, and builds and signs the response
transaction. The host never fetches, filters or writes a response; it decides only when to ask, and
records and sends what the enclave signed:

- ``SIGNED`` (this node's signature completes the response): written to the outbox in one database
  transaction for the batch, then sent;
- ``SUBMISSION`` (several designated nodes): the signatures go to the other oracle nodes
  (``submitoracleresponse``); the leases stay, so a request still stored after its lease is asked again;
- ``GONE``: the native contract no longer stores the request (answered by another node, or a response
  was persisted and faulted: the protocol removes the request either way): marked failed;
- ``REFUSED``: never answerable (a malformed stored request, ``gasForResponse`` below the network fee):
  marked failed with the enclave's reason;
- ``LATER``: left out of the enclave's answer, which travels in one frame (large results): released and
  asked for in the next run.

Bounded retries: each response transaction written for a request counts in its ``attempts``. A response
that is refused by the node, expires unincluded or faults comes back here; a request that already had
``max_responses`` (``NSL_NEO_NATIVE_ORACLE_MAX_RESPONSES``, default 3) responses is marked failed with
the reason instead of being answered again (metric outcome ``gave_up``).

Exactly once: the shared chain machinery (idempotency key = native Oracle contract + request id, leases,
outbox, an unincluded answer is rebuilt only after its ``validUntilBlock``) and the protocol, which keeps
one response per request in the mempool and removes the request when a response is persisted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from neo_service_layer.enclave.wire.native_oracle import NativeResponse, Outcome
from neo_service_layer.kernel.chain.ports.chain import (
    Chain,
    ChainEvent,
    ChainObserver,
    SendOutcome,
    SendResult,
    SignedTransaction,
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
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.native_oracle.ports import NativeOracleChain, NotAnOracleNode
from neo_service_layer.services.native_oracle.rules import (
    ORACLE_CONTRACT,
    NativeParams,
    NativeResult,
    NeoResponseCode,
)

SERVICE = "native-oracle"
GONE = "no longer pending in the native Oracle contract (answered, or its response transaction faulted)"


def gave_up(attempts: int, faults: int) -> str:
    """Why a request is failed after ``attempts`` responses the chain did not take."""
    return (
        f"gave up after {attempts} response transactions were refused, expired unincluded or faulted "
        f"({faults} faulted on chain)"
    )


def _result(response: NativeResponse) -> NativeResult:
    """What a signed response answered, as the node's table records it."""
    code = NeoResponseCode.ERROR if response.code is None else response.code
    return NativeResult(code, response.result)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


#: a stored native Oracle request: the URL and filter of its event, and the response last sent
NativeOracleRequest = ChainRequest[NativeParams, NativeResult]
#: the pipeline's store as the native Oracle node uses it
NativeOracleStore = RequestStore[NativeParams, NativeResult]


def decode_events(events: Sequence[ChainEvent]) -> tuple[list[NewRequest[NativeParams]], list[RequestUpdate]]:
    """The native Oracle's events as new requests and updates."""
    new: list[NewRequest[NativeParams]] = []
    updates: list[RequestUpdate] = []
    for event in events:
        values = event.values
        if event.name == "OracleRequest" and len(values) == 4:
            request_id, consumer, url, filter_ = values
            params = NativeParams(_text(url), None if filter_ is None else _text(filter_))
            contract = "0x" + bytes(consumer)[::-1].hex()
            new.append(NewRequest(int(request_id), contract, params, event.block, event.tx_hash))
        elif event.name == "OracleResponse" and values:
            rid = int(values[0])
            updates.append(RequestUpdate(rid, ChainEventKind.FULFILLED, event.block, event.tx_hash))
            updates.append(RequestUpdate(rid, ChainEventKind.DELIVERED, event.block, event.tx_hash))
    return new, updates


class NativeOracleFulfiller:
    """Claims seen native requests; the enclave answers each, the host records and sends the response."""

    def __init__(
        self,
        chain: Chain,
        node: NativeOracleChain,
        store: NativeOracleStore,
        clock: Clock,
        observer: ChainObserver,
        *,
        worker_id: str,
        lease_seconds: float = 30.0,
        claim_limit: int = 256,
        concurrency: int = 16,
        max_responses: int = 3,
    ) -> None:
        self._chain = chain
        self._node = node
        self._store = store
        self._clock = clock
        self._observer = observer
        self.contract = ORACLE_CONTRACT
        self.worker_id = worker_id
        self._lease = lease_seconds
        self._limit = claim_limit
        self._semaphore = asyncio.Semaphore(concurrency)
        self._max_responses = max_responses

    async def run_once(self) -> int:
        """Claim and answer what is waiting; return how many requests were handled.

        Requests this node cannot answer now (not designated, enclave or chain unreachable) are released
        for a later try; the first such error is raised after the others were sent.
        """
        now = self._clock.now()
        claimed = await self._store.claim(
            SERVICE, self.contract, self.worker_id, now, lease_until(now, self._lease), self._limit
        )
        if not claimed:
            return 0
        answerable = [r for r in claimed if r.attempts < self._max_responses]
        for request in claimed:
            if request.attempts >= self._max_responses:
                await self._fail(
                    request.request_id, gave_up(request.attempts, request.chain_faults), "gave_up"
                )
        if not answerable:
            return len(claimed)
        ids = [r.request_id for r in answerable]
        try:
            nodes = await self._node.oracle_nodes()
            if self._node.public_key not in nodes:
                raise NotAnOracleNode("this node's key is not designated for the Oracle role")
        except Exception:
            await self._release(ids)
            self._observer.transaction_outcome(SERVICE, "not_designated")
            raise
        try:
            responses = await self._node.respond(ids)
        except Exception:
            await self._release(ids)
            raise
        errors: dict[int, BaseException] = {}
        signed, submissions, later = [], [], []
        for response in responses:
            if response.outcome is Outcome.SIGNED:
                signed.append(response)
            elif response.outcome is Outcome.SUBMISSION:
                submissions.append(response)
            elif response.outcome is Outcome.LATER:  # the enclave's answer was full: asked again soon
                later.append(response.request_id)
            else:
                await self._fail(
                    response.request_id, GONE if response.outcome is Outcome.GONE else response.detail
                )
        if submissions:
            try:
                await self._node.submit(submissions, nodes)
            except Exception as exc:
                errors.update(dict.fromkeys((r.request_id for r in submissions), exc))
            else:  # the leases stay: still stored after the lease, a request is asked again
                self._observer.transaction_outcome(SERVICE, "submitted")
        if signed:
            try:
                errors.update(await self._answer(signed))
            except Exception as exc:  # released below; a transaction already recorded stays in the outbox
                errors.update(dict.fromkeys((r.request_id for r in signed), exc))
        if later:
            await self._release(later)
        if errors:
            await self._release(list(errors))
            raise next(iter(errors.values()))
        return len(claimed)

    async def _fail(self, request_id: int, reason: str, transaction_outcome: str | None = None) -> None:
        if await self._store.mark_failed(
            SERVICE, self.contract, self.worker_id, request_id, reason, self._clock.now()
        ):
            self._observer.request_outcome(SERVICE, "failed")
            if transaction_outcome is not None:
                self._observer.transaction_outcome(SERVICE, transaction_outcome)

    async def _release(self, ids: list[int]) -> None:
        await self._store.release(SERVICE, self.contract, self.worker_id, ids)

    async def _answer(self, responses: Sequence[NativeResponse]) -> dict[int, BaseException]:
        """Record the signed responses in one outbox write, send them; return the sends that failed.

        A send that failed or was refused stays in the outbox for the relay job to resend until its
        ``validUntilBlock``; then the request is claimed and answered again (one more attempt).
        """
        items = [
            (
                SignedTransaction(r.tx_hash, r.raw, r.valid_until_block, r.system_fee, r.network_fee),
                [Fulfilment(r.request_id, _result(r), True)],
            )
            for r in responses
        ]
        now = self._clock.now()
        written = await self._store.write_outboxes(SERVICE, self.contract, self.worker_id, now, items)
        recorded = []
        for (tx, _), response, ok in zip(items, responses, written, strict=True):
            if ok:
                recorded.append((tx, response.request_id))
            else:  # another worker owns this request now: this transaction is dropped unsent
                self._observer.transaction_outcome(SERVICE, "lease_lost")
        outcomes = await asyncio.gather(
            *(self._limited_send(tx.raw) for tx, _ in recorded), return_exceptions=True
        )
        sent: list[tuple[str, str | None]] = []
        failures: dict[int, BaseException] = {}
        for (tx, request_id), outcome in zip(recorded, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failures[request_id] = outcome
                continue
            sent.append((tx.tx_hash, outcome.detail if outcome.outcome is SendOutcome.REJECTED else None))
            self._observer.transaction_outcome(SERVICE, outcome.outcome.value)
        await self._store.mark_sent_many(sent, self._clock.now())
        return failures

    async def _limited_send(self, raw: bytes) -> SendResult:
        async with self._semaphore:
            return await self._chain.send(raw)
