"""Fakes for the chain services: a chain that records every call, an enclave that signs (and fetches)
deterministically, and an in-memory chain store with the SQL store's lease rules."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from neo_service_layer.enclave.feeds import value_of
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.feed_aggregation import QuorumNotMet, aggregate, to_fixed_point
from neo_service_layer.enclave.wire.feeds import FeedRound, FeedRoundFacts, FeedSources, round_message
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    OracleResponse,
    ResultCode,
    SealedSecret,
    response_message,
)
from neo_service_layer.enclave.wire.randomness import (
    RandomnessFacts,
    SignedRandomness,
    fulfil_message,
    output_from_proof,
    vrf_input,
)
from neo_service_layer.kernel.chain.ports.chain import (
    BlockEvents,
    BlockSource,
    ChainEvent,
    ContractCall,
    DryRun,
    SendOutcome,
    SendResult,
    SignedTransaction,
    TransactionState,
)
from neo_service_layer.kernel.chain.rules import (
    ChainRequest,
    Fulfilment,
    Lease,
    NewRequest,
    OutboxEntry,
    RequestStatus,
)
from neo_service_layer.kernel.chain.use_cases.watcher import ChainWatcher
from neo_service_layer.services.randomness import use_cases as randomness_use_cases
from neo_service_layer.services.randomness.rules import RandomnessParams

CONTRACT = "0x" + "ab" * 20
CONSUMER = bytes(range(20))


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def requested(block: int, request_id: int, tx: str = "0xreq") -> ChainEvent:
    seed = hashlib.sha256(request_id.to_bytes(8, "little")).digest()
    return ChainEvent(block, tx, CONTRACT, "RandomnessRequested", (request_id, CONSUMER, 1, seed))


def fulfilled(block: int, request_id: int, tx: str) -> ChainEvent:
    return ChainEvent(block, tx, CONTRACT, "RandomnessFulfilled", (request_id, b"o" * 32, b"p" * 96))


def delivered(block: int, request_id: int, tx: str) -> ChainEvent:
    return ChainEvent(block, tx, CONTRACT, "RandomnessDelivered", (request_id,))


@dataclass
class FakeChain:
    """A chain of ``head + 1`` blocks with the events put in ``blocks``; faults on demand in dry-runs."""

    head: int = 0
    blocks: dict[int, list[ChainEvent]] = field(default_factory=dict)
    #: request id -> VM reason, for "fulfill" / "deliver" / "markCallbackFailed" calls on it
    fault_fulfill: dict[int, str] = field(default_factory=dict)
    fault_deliver: dict[int, str] = field(default_factory=dict)
    fault_mark: bool = False
    #: method name -> VM reason, for any call of that method (e.g. a feed's "submit")
    fault_methods: dict[str, str] = field(default_factory=dict)
    #: method name -> stack returned by ``read``
    read_results: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    reads: list[ContractCall] = field(default_factory=list)
    included: dict[str, TransactionState] = field(default_factory=dict)
    send_outcome: SendOutcome = SendOutcome.ACCEPTED
    dry_runs: list[list[ContractCall]] = field(default_factory=list)
    built: list[list[ContractCall]] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    event_reads: list[int] = field(default_factory=list)
    valid_for: int = 5
    #: request id -> methods whose call on it halts in dry-runs but FAULTs in a real block (``mine``)
    fault_in_block: dict[int, set[str]] = field(default_factory=dict)
    _hashes: Any = field(default_factory=lambda: itertools.count(1))
    _scripts: dict[str, list[ContractCall]] = field(default_factory=dict)

    magic = 42
    sender = "NSender"

    async def height(self) -> int:
        return self.head

    async def block_events(self, index: int, contract: str) -> BlockEvents:
        self.event_reads.append(index)
        events = tuple(self.blocks.get(index, []))
        when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index) if events else None
        return BlockEvents(index, when, events)

    async def dry_run(self, calls: Sequence[ContractCall]) -> DryRun:
        self.dry_runs.append(list(calls))
        for call in calls:
            if call.method in self.fault_methods:
                return DryRun(False, 1000, self.fault_methods[call.method])
            if call.method not in ("fulfill", "deliver", "markCallbackFailed"):
                continue
            rid = int(call.args[0]) if call.args else -1
            if call.method == "fulfill" and rid in self.fault_fulfill:
                return DryRun(False, 1000, self.fault_fulfill[rid])
            if call.method == "deliver" and rid in self.fault_deliver:
                return DryRun(False, 1000, self.fault_deliver[rid])
            if call.method == "markCallbackFailed" and self.fault_mark:
                return DryRun(False, 1000, "only the owner may do this")
        return DryRun(True, 1_000_000 * len(calls), None)

    async def build_transaction(self, calls: Sequence[ContractCall], dry_run: DryRun) -> SignedTransaction:
        assert dry_run.halted, "a faulting script must never be built"
        self.built.append(list(calls))
        number = next(self._hashes)
        self._scripts[f"0x{number:064x}"] = list(calls)
        return SignedTransaction(
            f"0x{number:064x}", f"raw-{number}".encode(), self.head + self.valid_for, 1, 1
        )

    def mine(self) -> None:
        """Include every built transaction not included yet in the next block; one that calls a method
        of ``fault_in_block`` on its request FAULTs there (although its dry-run halted)."""
        self.head += 1
        for tx_hash, calls in self._scripts.items():
            if tx_hash in self.included:
                continue
            bad = [c for c in calls if c.args and c.method in self.fault_in_block.get(int(c.args[0]), set())]
            reason = f"{bad[0].method} of {bad[0].args[0]} faulted" if bad else None
            self.included[tx_hash] = TransactionState(self.head, not bad, reason)

    async def send(self, raw: bytes) -> SendResult:
        self.sent.append(raw)
        return SendResult(self.send_outcome)

    async def transaction_state(self, tx_hash: str) -> TransactionState:
        return self.included.get(tx_hash, TransactionState(None))

    async def gas_balance(self, account: str | None = None) -> int:
        return 10**12

    async def read(self, call: ContractCall) -> tuple[Any, ...]:
        self.reads.append(call)
        return self.read_results.get(call.method, ())


def fake_signature(key_id: str, message: bytes, size: int = 64) -> bytes:
    """What ``FakeEnclave`` returns as the signature of ``message`` by ``key_id``."""
    return (hashlib.sha512(key_id.encode() + message).digest() * 2)[:size]


@dataclass(frozen=True, slots=True)
class Fetch:
    """One ``oracle_fetch`` call as the fake enclave received it."""

    request_id: int
    spec: FetchSpec
    tenant: str
    key_id: str
    key_tenant: str
    request_url: str | None
    secrets: tuple[SealedSecret, ...]
    facts: OracleFacts | None = field(default=None, compare=False)


class FakeEnclave:
    """Signs with hashes of the message (right lengths; the fakes check no signature).

    ``oracle_fetch`` answers from ``answers`` (URL -> code and result; ``SUCCESS`` with ``default_result``
    otherwise), raises ``errors[url]`` when set, and records every call in ``fetches``; ``on_fetch`` runs
    first (a test can move a clock there, as a slow fetch would).
    """

    def __init__(self, fetched_at_ms: int = 1_767_225_600_000) -> None:
        self.batches: list[tuple[str, int]] = []
        self.signed: list[tuple[str, bytes, str, str, str]] = []
        self.fulfilled: list[RandomnessFacts] = []
        self.fetches: list[Fetch] = []
        self.refusals: list[tuple[OracleFacts, ResultCode]] = []
        self.rounds: list[tuple[FeedRoundFacts, FeedSources, str, str]] = []
        self.answers: dict[str, tuple[ResultCode, bytes]] = {}
        self.errors: dict[str, Exception] = {}
        self.default_result = b'"42"'
        self.fetched_at_ms = fetched_at_ms
        self.on_fetch: Any = None
        self.random_bytes = bytes(range(1, 9))
        #: the credential each ``with_credential`` call passed (the off-chain oracle route's caller)
        self.presented: list[Any] = []

    def with_credential(self, credential: Any) -> FakeEnclave:
        """Itself, recording the caller's credential."""
        self.presented.append(credential)
        return self

    async def sign_batch(self, key_id: str, messages: Sequence[bytes], **_: Any) -> list[bytes]:
        self.batches.append((key_id, len(messages)))
        size = 96 if key_id == "bls" else 64
        return [fake_signature(key_id, m, size) for m in messages]

    async def randomness_fulfil(
        self, *, bls_key_id: str, ecdsa_key_id: str, items: Sequence[RandomnessFacts], tenant: str
    ) -> list[SignedRandomness]:
        """As the enclave's ``randomness_fulfil``, with fake signatures over the real V2 messages."""
        self.batches.append((bls_key_id, len(items)))
        self.fulfilled.extend(items)
        answers = []
        for facts in items:
            proof = fake_signature(bls_key_id, vrf_input(facts), 96)
            output = output_from_proof(proof)
            signature = fake_signature(ecdsa_key_id, fulfil_message(facts, output, proof))
            answers.append(SignedRandomness(output, proof, signature))
        return answers

    async def sign(
        self, key_id: str, message: bytes, *, tenant: str, purpose: Any, fmt: Any, **_: Any
    ) -> bytes:
        self.signed.append((key_id, message, tenant, str(purpose), str(fmt)))
        return fake_signature(key_id, message)

    async def random(self, n: int) -> bytes:
        return (self.random_bytes * (n // len(self.random_bytes) + 1))[:n]

    async def oracle_fetch(
        self,
        facts: OracleFacts,
        spec: FetchSpec,
        *,
        tenant: str,
        key_id: str,
        key_tenant: str,
        key_version: int | None = None,
        secrets: Sequence[SealedSecret] = (),
    ) -> OracleResponse:
        """As the enclave's: the URL fetched is the facts' unless they name a template, the filter theirs."""
        assert facts.url == spec.url or facts.url.startswith("nsl://template/")
        assert facts.filter == spec.filter
        request_url = facts.url if facts.url != spec.url else None
        self.fetches.append(
            Fetch(facts.request_id, spec, tenant, key_id, key_tenant, request_url, tuple(secrets), facts)
        )
        if self.on_fetch is not None:
            self.on_fetch(facts.request_id, spec)
        if spec.url in self.errors:
            raise self.errors[spec.url]
        code, result = self.answers.get(spec.url, (ResultCode.SUCCESS, self.default_result))
        message = response_message(facts, code, self.fetched_at_ms, result)
        return OracleResponse(
            facts, code, result, self.fetched_at_ms, fake_signature(key_id, message), key_id, 1,
            b"\x02" * 33,
        )  # fmt: skip

    async def feed_round(
        self,
        facts: FeedRoundFacts,
        sources: FeedSources,
        *,
        key_id: str,
        key_tenant: str,
        key_version: int | None = None,
    ) -> FeedRound:
        """As the enclave's: each source's URL answered from ``answers`` (its filtered result), aggregated
        with the real rules, the real V2 round message signed with a fake signature."""
        self.rounds.append((facts, sources, key_id, key_tenant))
        values: list[tuple[str, Any]] = []
        for source in sources.sources:
            if source.url in self.errors:
                raise self.errors[source.url]
            code, result = self.answers.get(source.url, (ResultCode.SUCCESS, self.default_result))
            try:
                values.append((source.name, value_of(result) if code is ResultCode.SUCCESS else None))
            except InvalidInput:
                values.append((source.name, None))
        digest, key = sources.digest(), (key_id, 1, b"\x02" * 33)
        try:
            round_ = aggregate(dict(values), sources.rules)
        except QuorumNotMet as exc:
            return FeedRound(facts, digest, tuple(values), None, None, None, str(exc), *key)
        answer = to_fixed_point(round_.answer, facts.decimals)
        if answer <= 0:
            refusal = "the contract accepts positive answers below 2^127 only"
            return FeedRound(facts, digest, tuple(values), round_, None, None, refusal, *key)
        signature = fake_signature(key_id, round_message(facts, digest, answer))
        return FeedRound(facts, digest, tuple(values), round_, answer, signature, "", *key)

    async def oracle_refuse(
        self,
        facts: OracleFacts,
        code: ResultCode,
        *,
        key_id: str,
        key_tenant: str,
        key_version: int | None = None,
    ) -> OracleResponse:
        """As the enclave's ``oracle_fetch`` with a ``code``: a refusal signed for the facts, no fetch."""
        self.refusals.append((facts, code))
        message = response_message(facts, code, self.fetched_at_ms, b"")
        return OracleResponse(
            facts, code, b"", self.fetched_at_ms, fake_signature(key_id, message), key_id, 1, b"\x02" * 33
        )


@dataclass
class RecordingObserver:
    behind: list[int] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    latencies: list[tuple[int, float | None]] = field(default_factory=list)
    transactions: list[str] = field(default_factory=list)
    dropped: list[tuple[str, int]] = field(default_factory=list)

    def blocks_behind(self, service: str, blocks: int) -> None:
        self.behind.append(blocks)

    def request_outcome(self, service: str, outcome: str) -> None:
        self.outcomes.append(outcome)

    def fulfilment_latency(self, service: str, blocks: int, seconds: float | None) -> None:
        self.latencies.append((blocks, seconds))

    def transaction_outcome(self, service: str, outcome: str) -> None:
        self.transactions.append(outcome)

    def events_dropped(self, service: str, reason: str, count: int) -> None:
        self.dropped.append((reason, count))


@dataclass
class Outboxed[A]:
    """A transaction the in-memory store accepted: its fulfilments and how often it was marked sent."""

    tx: SignedTransaction
    fulfilments: list[Fulfilment[A]]
    sends: list[str | None] = field(default_factory=list)
    status: str = "pending"  # pending | included | expired | faulted


class MemoryRequestStore[Q, A]:
    """The ``RequestStore`` operations the fulfillers use, in memory, with the SQL store's lease rules.

    ``claim`` leases SEEN requests whose lease is free or ran out (oldest first); ``write_outbox`` accepts
    a transaction only while every request is SEEN and leased by the writer, and then moves them to
    FULFILLING; ``release`` frees the writer's leases; ``mark_failed`` moves a leased SEEN request to
    FAILED. Every call that changes state is recorded.
    """

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], ChainRequest[Q, A]] = {}
        self.leases: dict[tuple[str, str, int], Lease] = {}
        self.outbox: dict[str, Outboxed[A]] = {}
        self.released: list[list[int]] = []
        self.failed: list[tuple[int, str]] = []

    def add(self, service: str, contract: str, new: Sequence[NewRequest[Q]]) -> None:
        for n in new:
            self.rows[(service, contract, n.request_id)] = ChainRequest(
                service,
                contract,
                n.request_id,
                n.consumer,
                n.asked,
                n.block,
                n.tx_hash,
                RequestStatus.SEEN,
                0,
            )
            self.leases[(service, contract, n.request_id)] = Lease(None, None)

    def status(self, service: str, contract: str, request_id: int) -> RequestStatus:
        return self.rows[(service, contract, request_id)].status

    def statuses(self) -> dict[int, RequestStatus]:
        return {key[2]: row.status for key, row in self.rows.items()}

    async def claim(
        self, service: str, contract: str, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[ChainRequest[Q, A]]:
        def lapsed(lease: Lease) -> bool:  # as the SQL store: nobody's, or run out (even our own)
            return lease.until is None or lease.until <= now

        free = [
            row
            for key, row in self.rows.items()
            if key[:2] == (service, contract)
            and row.status is RequestStatus.SEEN
            and lapsed(self.leases[key])
        ]
        picked = sorted(free, key=lambda r: (r.request_block, r.request_id))[:limit]
        for row in picked:
            self.leases[(service, contract, row.request_id)] = Lease(worker, until)
        return picked

    async def release(self, service: str, contract: str, worker: str, request_ids: Sequence[int]) -> None:
        self.released.append(list(request_ids))
        for rid in request_ids:
            key = (service, contract, rid)
            if key in self.leases and self.leases[key].owner == worker:
                self.leases[key] = Lease(None, None)

    async def renew(
        self, service: str, contract: str, worker: str, request_ids: Sequence[int], until: datetime
    ) -> set[int]:
        held = set()
        for rid in request_ids:
            key = (service, contract, rid)
            row = self.rows.get(key)
            if row is not None and row.status is RequestStatus.SEEN and self.leases[key].owner == worker:
                self.leases[key] = Lease(worker, until)
                held.add(rid)
        return held

    async def write_outbox(
        self,
        service: str,
        contract: str,
        worker: str,
        now: datetime,
        tx: SignedTransaction,
        fulfilments: Sequence[Fulfilment[A]],
    ) -> bool:
        keys = [(service, contract, f.request_id) for f in fulfilments]
        if not all(
            self.rows[k].status is RequestStatus.SEEN and self.leases[k].held_by(worker, now) for k in keys
        ):
            return False
        for key, f in zip(keys, fulfilments, strict=True):
            row = self.rows[key]
            self.rows[key] = replace(
                row,
                status=RequestStatus.FULFILLING,
                tx_hash=tx.tx_hash,
                with_delivery=f.with_delivery,
                answer=f.answer,
                callback_failure=f.callback_failure,
                attempts=row.attempts + 1,
            )
        self.outbox[tx.tx_hash] = Outboxed(tx, list(fulfilments))
        return True

    async def write_outboxes(
        self,
        service: str,
        contract: str,
        worker: str,
        now: datetime,
        items: Sequence[tuple[SignedTransaction, Sequence[Fulfilment[A]]]],
    ) -> list[bool]:
        return [await self.write_outbox(service, contract, worker, now, tx, f) for tx, f in items]

    async def mark_failed(
        self, service: str, contract: str, worker: str, request_id: int, reason: str, now: datetime
    ) -> bool:
        key = (service, contract, request_id)
        if self.rows[key].status is not RequestStatus.SEEN or self.leases[key].owner != worker:
            return False
        self.rows[key] = replace(self.rows[key], status=RequestStatus.FAILED, failure_reason=reason)
        self.leases[key] = Lease(None, None)
        self.failed.append((request_id, reason))
        return True

    async def mark_sent(self, tx_hash: str, now: datetime, error: str | None) -> None:
        self.outbox[tx_hash].sends.append(error)

    async def mark_sent_many(self, sent: Sequence[tuple[str, str | None]], now: datetime) -> None:
        for tx_hash, error in sent:
            await self.mark_sent(tx_hash, now, error)

    async def pending_outbox(self, service: str) -> list[OutboxEntry]:
        return [
            OutboxEntry(o.tx.tx_hash, o.tx.raw, o.tx.valid_until_block, len(o.sends), None)
            for o in self.outbox.values()
            if o.status == "pending"
        ]

    async def outbox_included(self, tx_hash: str, block: int) -> None:
        self.outbox[tx_hash].status = "included"

    async def outbox_retry(self, tx_hash: str, status: str, now: datetime) -> int:
        """As the SQL store: FULFILLING -> SEEN, lease freed, ``chain_faults`` counted for "faulted"."""
        self.outbox[tx_hash].status = status
        moved = 0
        for key, row in self.rows.items():
            if row.tx_hash == tx_hash and row.status is RequestStatus.FULFILLING:
                faults = row.chain_faults + (1 if status == "faulted" else 0)
                self.rows[key] = replace(row, status=RequestStatus.SEEN, chain_faults=faults)
                self.leases[key] = Lease(None, None)
                moved += 1
        return moved

    async def get(self, service: str, contract: str, request_id: int) -> ChainRequest[Q, A] | None:
        return self.rows.get((service, contract, request_id))


def randomness_watcher(chain: BlockSource, store: Any) -> ChainWatcher[RandomnessParams]:
    """The randomness service's watcher over ``chain`` and ``store`` (a request store, or a wrapper
    of one that records calls), from block 1, at most 100 blocks a poll."""
    return ChainWatcher(
        chain,
        store,
        FakeClock(),
        RecordingObserver(),
        service=randomness_use_cases.SERVICE,
        contract=CONTRACT,
        decode=randomness_use_cases.decode_events,
        start_block=1,
    )
