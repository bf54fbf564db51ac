"""Fakes for the chain services: a chain that records every call, an enclave that signs deterministically."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from neo_service_layer.ports.chain import (
    BlockEvents,
    ChainEvent,
    ContractCall,
    DryRun,
    SendOutcome,
    SendResult,
    SignedTransaction,
    TransactionState,
)

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
    included: dict[str, TransactionState] = field(default_factory=dict)
    send_outcome: SendOutcome = SendOutcome.ACCEPTED
    dry_runs: list[list[ContractCall]] = field(default_factory=list)
    built: list[list[ContractCall]] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    event_reads: list[int] = field(default_factory=list)
    valid_for: int = 5
    _hashes: Any = field(default_factory=lambda: itertools.count(1))

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
        return SignedTransaction(
            f"0x{number:064x}", f"raw-{number}".encode(), self.head + self.valid_for, 1, 1
        )

    async def send(self, raw: bytes) -> SendResult:
        self.sent.append(raw)
        return SendResult(self.send_outcome)

    async def transaction_state(self, tx_hash: str) -> TransactionState:
        return self.included.get(tx_hash, TransactionState(None))

    async def gas_balance(self, account: str | None = None) -> int:
        return 10**12

    async def read(self, call: ContractCall) -> tuple[Any, ...]:
        return ()


class FakeEnclave:
    """Signs with hashes of the message (right lengths; the fakes check no signature)."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, int]] = []

    async def sign_batch(self, key_id: str, messages: Sequence[bytes], **_: Any) -> list[bytes]:
        self.batches.append((key_id, len(messages)))
        size = 96 if key_id == "bls" else 64
        return [(hashlib.sha512(key_id.encode() + m).digest() * 2)[:size] for m in messages]


@dataclass
class RecordingObserver:
    behind: list[int] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    latencies: list[tuple[int, float | None]] = field(default_factory=list)
    transactions: list[str] = field(default_factory=list)

    def blocks_behind(self, service: str, blocks: int) -> None:
        self.behind.append(blocks)

    def request_outcome(self, service: str, outcome: str) -> None:
        self.outcomes.append(outcome)

    def fulfilment_latency(self, service: str, blocks: int, seconds: float | None) -> None:
        self.latencies.append((blocks, seconds))

    def transaction_outcome(self, service: str, outcome: str) -> None:
        self.transactions.append(outcome)
