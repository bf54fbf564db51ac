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
- ``SUBMISSION`` (several designated nodes): the transaction and its signature are kept
  (``gathering``) and the signatures go to the other oracle nodes (``submitoracleresponse``); when the
  signatures the other nodes handed to this node complete it, it is written and sent as ``SIGNED``;
  otherwise the leases stay, so a request still stored after its lease is asked again (the enclave
  answers with neo-go's backup ``ConsensusUnreachable`` response once the main one expired);
- ``GONE``: the native contract no longer stores the request (answered by another node, or a response
  was persisted and faulted: the protocol removes the request either way): marked failed;
- ``REFUSED``: never answerable (a malformed stored request, ``gasForResponse`` below the network fee):
  marked failed with the enclave's reason;
- ``LATER``: left out of the enclave's answer, which travels in one frame (large results): released and
  asked for in the next run.

Progress per request, whatever the URLs cost: a claimed batch is asked for in several enclave calls of
at most ``urls_per_call`` distinct URLs (``rules.enclave_calls``; one URL's requests stay together, so
each URL is fetched once), ``calls_in_flight`` at a time, and what each call signed is written and sent
as soon as it answers. While calls run, ``LeaseKeeper`` renews the claims still in progress every third
of the lease, so a batch slower than its lease (slow or timing-out URLs) keeps it, and before an outbox
write the leases are renewed once more: one that ran out unclaimed is taken back, so an answer fetched
and signed is written, never fetched again. Only a request another worker claimed meanwhile is dropped,
with a warning and the ``lease_lost`` metric.

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
import dataclasses
from collections.abc import Sequence

from neo_service_layer.enclave.wire.native_oracle import MAX_RESPONSE_BATCH, NativeResponse, Outcome
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
from neo_service_layer.kernel.chain.use_cases.lease_keeper import LeaseKeeper
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.native_oracle.gathering import SignatureGatherer
from neo_service_layer.services.native_oracle.ports import NativeOracleChain, NotAnOracleNode
from neo_service_layer.services.native_oracle.rules import (
    ORACLE_CONTRACT,
    NativeParams,
    NativeResult,
    NeoResponseCode,
    enclave_calls,
)

SERVICE = "native-oracle"
GONE = "no longer pending in the native Oracle contract (answered, or its response transaction faulted)"

log = get_logger("nsl.native_oracle")


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
        urls_per_call: int = 16,
        calls_in_flight: int = 4,
        renew_every: float | None = None,
        gatherer: SignatureGatherer | None = None,
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
        self._urls_per_call = urls_per_call
        self._calls = asyncio.Semaphore(calls_in_flight)
        self._renew_every = renew_every
        self._gatherer = gatherer

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
        calls = enclave_calls(
            [(r.request_id, r.asked.url) for r in answerable], self._urls_per_call, MAX_RESPONSE_BATCH
        )
        keeper = LeaseKeeper(
            self._store,
            self._clock,
            service=SERVICE,
            contract=self.contract,
            worker=self.worker_id,
            lease_seconds=self._lease,
            request_ids=ids,
            every=self._renew_every,
        )
        async with keeper:  # the claims last as long as the slowest call
            outcomes = await asyncio.gather(
                *(self._call(call, nodes, keeper) for call in calls), return_exceptions=True
            )
        errors = [e for o in outcomes for e in ([o] if isinstance(o, BaseException) else o)]
        if errors:
            raise errors[0]
        return len(claimed)

    async def _call(self, ids: list[int], nodes: Sequence[bytes], keeper: LeaseKeeper) -> list[BaseException]:
        """One enclave call: what it signed is written and sent as soon as it answers, whatever the other
        calls of the batch are doing. Requests it could not handle are released; return why."""
        try:
            async with self._calls:
                responses = await self._node.respond(ids)
        except Exception as exc:
            keeper.forget(ids)
            await self._release(ids)
            return [exc]
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
                if self._gatherer is not None:
                    await self._gatherer.forget([response.request_id])
        if submissions:
            try:
                completed = await self._gather(submissions, nodes)
            except Exception as exc:  # still handed to the peers: one of them may complete it
                completed = []
                errors.update(dict.fromkeys((r.request_id for r in submissions), exc))
            signed.extend(completed)
            done = {r.request_id for r in completed}
            try:
                await self._node.submit(submissions, nodes)
            except Exception as exc:
                errors.update(
                    dict.fromkeys((r.request_id for r in submissions if r.request_id not in done), exc)
                )
            else:  # the leases stay: still stored after the lease, a request is asked again
                self._observer.transaction_outcome(SERVICE, "submitted")
        if signed:
            try:
                errors.update(await self._answer(signed, keeper))
            except Exception as exc:  # released below; a transaction already recorded stays in the outbox
                errors.update(dict.fromkeys((r.request_id for r in signed), exc))
        keeper.forget(ids)
        if later or errors:
            await self._release([*later, *errors])
        return list(dict.fromkeys(errors.values()))

    async def _gather(
        self, submissions: list[NativeResponse], nodes: Sequence[bytes]
    ) -> list[NativeResponse]:
        """Keep this node's signed ``SUBMISSION`` transactions; those the other nodes' signatures
        gathered so far complete come back as ``SIGNED`` responses, written and sent like one this node
        signs alone."""
        if self._gatherer is None:
            return []
        await self._gatherer.keep(self._node.public_key, submissions)
        completed = []
        for response in submissions:
            raw = await self._gatherer.complete(response.request_id, nodes)
            if raw is not None:
                completed.append(dataclasses.replace(response, outcome=Outcome.SIGNED, raw=raw))
        return completed

    async def _fail(self, request_id: int, reason: str, transaction_outcome: str | None = None) -> None:
        if await self._store.mark_failed(
            SERVICE, self.contract, self.worker_id, request_id, reason, self._clock.now()
        ):
            self._observer.request_outcome(SERVICE, "failed")
            if transaction_outcome is not None:
                self._observer.transaction_outcome(SERVICE, transaction_outcome)

    async def _release(self, ids: list[int]) -> None:
        await self._store.release(SERVICE, self.contract, self.worker_id, ids)

    async def _answer(
        self, responses: Sequence[NativeResponse], keeper: LeaseKeeper
    ) -> dict[int, BaseException]:
        """Record the signed responses in one outbox write, send them; return the sends that failed.

        The leases are renewed first: one that ran out while the call ran but that no other worker took
        is taken back, so an answer fetched and signed is written rather than fetched again. Only a
        request another worker claimed meanwhile is dropped (a warning and ``lease_lost``).

        A send that failed or was refused stays in the outbox for the relay job to resend until its
        ``validUntilBlock``; then the request is claimed and answered again (one more attempt).
        """
        held = await keeper.renew_now(r.request_id for r in responses)
        lost = [r.request_id for r in responses if r.request_id not in held]
        mine = [r for r in responses if r.request_id in held]
        items = [
            (
                SignedTransaction(r.tx_hash, r.raw, r.valid_until_block, r.system_fee, r.network_fee),
                [Fulfilment(r.request_id, _result(r), True)],
            )
            for r in mine
        ]
        now = self._clock.now()
        written = (
            await self._store.write_outboxes(SERVICE, self.contract, self.worker_id, now, items)
            if items
            else []
        )
        recorded = []
        for (tx, _), response, ok in zip(items, mine, written, strict=True):
            if ok:
                recorded.append((tx, response.request_id))
            else:
                lost.append(response.request_id)
        if lost:
            self._lease_lost(lost)
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

    def _lease_lost(self, request_ids: list[int]) -> None:
        """Another worker claimed these requests while this one fetched: their signed responses are
        dropped unsent (that worker answers them). Steady, it means the work outlasts the lease."""
        for _ in request_ids:
            self._observer.transaction_outcome(SERVICE, "lease_lost")
        log.warning(
            "native oracle lease lost: signed responses dropped unsent, another worker holds the requests",
            requests=len(request_ids),
            request_ids=sorted(request_ids)[:10],
            lease_seconds=self._lease,
            worker=self.worker_id,
        )

    async def _limited_send(self, raw: bytes) -> SendResult:
        async with self._semaphore:
            return await self._chain.send(raw)
