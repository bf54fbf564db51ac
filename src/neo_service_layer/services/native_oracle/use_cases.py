"""A node for Neo's native Oracle contract: answers ``Oracle.request`` of any Neo dApp.

The watcher reads the native Oracle's events (``OracleRequest(Id, RequestContract, Url, Filter)`` ->
a new request; ``OracleResponse(Id, OriginalTx)`` -> fulfilled and, since the callback ran in that HALTed
transaction, delivered). For each claimed request the fulfiller:

1. reads the request as the native contract stores it (``gasForResponse``, URL, filter); a request that is
   no longer stored was answered already (by another node, or by a response whose callback faulted:
   the protocol removes the request either way) and is marked failed with that reason;
2. fetches the URL through the enclave's ``oracle_fetch``, once per distinct URL of a claimed batch (the
   same SSRF guard as the oracle service;
   ``https`` only, as Neo's protocol; a body of at most 65,535 bytes, at most 2 redirects) and applies
   Neo's filter semantics (``adapters.fetch.neo_filter``);
3. builds one response transaction per request, the batch priced with one fee estimate and signed by the
   enclave's node key in one call, writes them to the outbox in one database transaction and sends them;
   when the designated nodes' account needs more than this node's signature, it hands its signatures to
   the other oracle nodes instead (``submitoracleresponse``), and whichever gathers enough sends.

Exactly once: the shared chain machinery (idempotency key = native Oracle contract + request id, leases,
outbox, an unincluded answer is rebuilt only after its ``validUntilBlock``) and the protocol, which keeps
one response per request in the mempool and removes the request when a response is persisted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.enclave.wire.oracle import FetchSpec, OracleFacts, ResultCode
from neo_service_layer.kernel.chain.ports.chain import (
    Chain,
    ChainEvent,
    ChainObserver,
    SendOutcome,
    SendResult,
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
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.native_oracle.ports import NativeOracleChain, NotAnOracleNode
from neo_service_layer.services.native_oracle.rules import (
    MAX_REDIRECTS,
    MAX_RESULT_BYTES,
    ORACLE_CONTRACT,
    NativeAnswer,
    NativeParams,
    NativeRequest,
    NativeResult,
    NeoResponseCode,
    neo_code,
)
from neo_service_layer.services.oracle.api import OracleKey

SERVICE = "native-oracle"
GONE = "no longer pending in the native Oracle contract (answered, or its response transaction faulted)"

#: Neo's filter: (body, filter or None) -> (code, result)
NeoFilter = Callable[[bytes, str | None], tuple[NeoResponseCode, bytes]]


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


class NativeFetcher:
    """Fetches a native request's URL through the enclave and applies Neo's filter."""

    def __init__(self, enclave: Callable[[], Enclave], key: OracleKey, neo_filter: NeoFilter) -> None:
        self._enclave = enclave
        self._key = key
        self._filter = neo_filter

    async def answer(self, request_id: int, request: NativeRequest) -> tuple[NeoResponseCode, bytes]:
        """(code, result) for ``request``; fetch problems are codes, never exceptions."""
        return self.filtered(await self.fetch(request_id, request.url), request.filter)

    def filtered(
        self, fetched: tuple[NeoResponseCode, bytes], filter_: str | None
    ) -> tuple[NeoResponseCode, bytes]:
        """Neo's filter over a fetched body (a failed fetch keeps its code)."""
        code, body = fetched
        return self._filter(body, filter_) if code is NeoResponseCode.SUCCESS else (code, b"")

    async def fetch(self, request_id: int, url: str) -> tuple[NeoResponseCode, bytes]:
        """(code, body) of ``url`` fetched by the enclave (``https`` only)."""
        scheme = urlsplit(url).scheme.lower()
        if scheme == "neofs":
            return NeoResponseCode.ERROR, b""  # as neo-go with no NeoFS nodes configured
        if scheme != "https":
            return NeoResponseCode.PROTOCOL_NOT_SUPPORTED, b""
        try:
            spec = FetchSpec(
                url=url,
                max_response_bytes=MAX_RESULT_BYTES,
                max_result_bytes=MAX_RESULT_BYTES,
                max_redirects=MAX_REDIRECTS,
            ).check()
        except InvalidInput:
            return NeoResponseCode.ERROR, b""
        fetched = await self._enclave().oracle_fetch(  # only the result is used: off-chain facts
            OracleFacts.offchain(request_id, PLATFORM_KEY_OWNER, spec.url, spec.filter),
            spec,
            tenant=PLATFORM_KEY_OWNER,
            key_id=self._key.key_id,
            key_tenant=PLATFORM_KEY_OWNER,
        )
        if fetched.code is not ResultCode.SUCCESS:
            return neo_code(fetched.code), b""
        return NeoResponseCode.SUCCESS, fetched.result


class NativeOracleFulfiller:
    """Claims seen native requests, answers each with one response transaction through the outbox."""

    def __init__(
        self,
        chain: Chain,
        node: NativeOracleChain,
        store: NativeOracleStore,
        fetcher: NativeFetcher,
        clock: Clock,
        observer: ChainObserver,
        *,
        worker_id: str,
        lease_seconds: float = 30.0,
        claim_limit: int = 256,
        concurrency: int = 16,
    ) -> None:
        self._chain = chain
        self._node = node
        self._store = store
        self._fetcher = fetcher
        self._clock = clock
        self._observer = observer
        self.contract = ORACLE_CONTRACT
        self.worker_id = worker_id
        self._lease = lease_seconds
        self._limit = claim_limit
        self._semaphore = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Claim and answer what is waiting; return how many requests were answered.

        Requests this node cannot answer now (not designated, enclave or chain unreachable) are released
        for a later try; the first such error is raised after the others were sent.
        """
        now = self._clock.now()
        claimed = await self._store.claim(
            SERVICE, self.contract, self.worker_id, now, lease_until(now, self._lease), self._limit
        )
        if not claimed:
            return 0
        try:
            nodes = await self._node.oracle_nodes()
            if self._node.public_key not in nodes:
                raise NotAnOracleNode("this node's key is not designated for the Oracle role")
        except Exception:
            await self._release([r.request_id for r in claimed])
            self._observer.transaction_outcome(SERVICE, "not_designated")
            raise
        stored = await asyncio.gather(*(self._stored(r) for r in claimed), return_exceptions=True)
        pending = [(r, s) for r, s in zip(claimed, stored, strict=True) if isinstance(s, NativeRequest)]
        # one fetch per distinct URL of this batch: a burst asking for the same URL gets the same body
        urls = {s.url: r.request_id for r, s in reversed(pending)}
        bodies = await asyncio.gather(
            *(self._fetch(rid, url) for url, rid in urls.items()), return_exceptions=True
        )
        fetched = dict(zip(urls, bodies, strict=True))
        results: list[BaseException | None] = [s if isinstance(s, BaseException) else None for s in stored]
        position = {r.request_id: i for i, r in enumerate(claimed)}
        answers: list[NativeAnswer] = []
        for r, s in pending:
            body = fetched[s.url]
            if isinstance(body, BaseException):
                results[position[r.request_id]] = body
                continue
            code, result = self._fetcher.filtered(body, s.filter)
            answers.append(NativeAnswer(r.request_id, s, code, result))
        if answers and not self._node.signs_alone(nodes):
            try:
                await self._node.submit_responses(answers, nodes)
            except Exception as exc:
                for answer in answers:
                    results[position[answer.request_id]] = exc
            else:  # the leases stay: unanswered after the lease, a request is fetched and submitted again
                self._observer.transaction_outcome(SERVICE, "submitted")
        elif answers:
            try:
                failures = await self._answer(answers, nodes)
            except Exception as exc:  # released below; a transaction already recorded stays in the outbox
                failures = {a.request_id: exc for a in answers}
            for request_id, error in failures.items():
                results[position[request_id]] = error
        failed = [r.request_id for r, e in zip(claimed, results, strict=True) if e is not None]
        if failed:
            await self._release(failed)
            raise next(e for e in results if e is not None)
        return len(claimed)

    async def _release(self, ids: list[int]) -> None:
        await self._store.release(SERVICE, self.contract, self.worker_id, ids)

    async def _stored(self, request: NativeOracleRequest) -> NativeRequest | None:
        """The stored request; a request no longer stored is marked failed (``None``)."""
        async with self._semaphore:
            stored = await self._node.pending_request(request.request_id)
            if stored is None and await self._store.mark_failed(
                SERVICE, self.contract, self.worker_id, request.request_id, GONE, self._clock.now()
            ):
                self._observer.request_outcome(SERVICE, "failed")
            return stored

    async def _fetch(self, request_id: int, url: str) -> tuple[NeoResponseCode, bytes]:
        async with self._semaphore:
            return await self._fetcher.fetch(request_id, url)

    async def _answer(
        self, answers: Sequence[NativeAnswer], nodes: Sequence[bytes]
    ) -> dict[int, BaseException]:
        """Build, record and send one response transaction per answer; return the sends that failed.

        The batch is priced and signed together, recorded in one outbox write and marked sent in one
        more; a send that failed stays in the outbox for the relay job to resend.
        """
        txs = await self._node.build_responses(answers, nodes)
        items = [
            (tx, [Fulfilment(a.request_id, NativeResult(a.code, a.result), True)])
            for tx, a in zip(txs, answers, strict=True)
        ]
        now = self._clock.now()
        written = await self._store.write_outboxes(SERVICE, self.contract, self.worker_id, now, items)
        recorded = []
        for (tx, _), answer, ok in zip(items, answers, written, strict=True):
            if ok:
                recorded.append((tx, answer.request_id))
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
