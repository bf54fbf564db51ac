"""Rules of on-chain request handling shared by every chain service: statuses, cursor, lease, outbox.

Pure functions over plain values (no I/O), so that the watcher, the fulfillers and the request store
agree, and unit tests can check every transition.

A request is identified by (service, contract, request id): the idempotency key. What it asked and what
it was answered are the service's own business: the records below carry them as opaque payloads (``Q``:
the question, ``A``: the answer), typed by each service. Its life:

- SEEN -> FULFILLING: claimed under a lease, answered and signed, its transaction written to the outbox;
- FULFILLING -> SEEN: the transaction expired (height >= validUntilBlock, not included): rebuilt;
- FULFILLING -> SEEN: the transaction was included but FAULTed on chain: ``chain_faults`` is counted,
  and such a request is never batched again (see ``use_cases.callback_delivery``);
- SEEN -> FAILED: the fulfilment's dry-run faults; nothing is sent, the VM's reason is kept;
- SEEN / FULFILLING / FAILED -> FULFILLED: the contract's "fulfilled" event, whoever sent it;
- FULFILLED -> DELIVERED or CALLBACK_FAILED: its "delivered" / "callback failed" event.

Events on chain always win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from neo_service_layer.enclave.wire.errors import DomainError
from neo_service_layer.kernel.events.rules import TenantEvent


class RequestStatus(StrEnum):
    SEEN = "seen"
    FULFILLING = "fulfilling"
    FULFILLED = "fulfilled"
    DELIVERED = "delivered"
    CALLBACK_FAILED = "callback_failed"
    FAILED = "failed"


class ChainEventKind(StrEnum):
    """What happened to a request, from the chain or from the fulfiller."""

    TX_WRITTEN = "tx_written"  # the fulfilment transaction is in the outbox
    TX_EXPIRED = "tx_expired"  # not included by its validUntilBlock
    DRY_RUN_FAULTED = "dry_run_faulted"  # the fulfilment script faults: never sent
    FULFILLED = "fulfilled"  # the contract's "fulfilled" event (RandomnessFulfilled, OracleFulfilled, ...)
    DELIVERED = "delivered"  # the contract's "delivered" event
    CALLBACK_FAILED = "callback_failed"  # CallbackFailed on chain


FINAL: frozenset[RequestStatus] = frozenset(
    {RequestStatus.DELIVERED, RequestStatus.CALLBACK_FAILED, RequestStatus.FAILED}
)

_TRANSITIONS: dict[tuple[RequestStatus, ChainEventKind], RequestStatus] = {
    (RequestStatus.SEEN, ChainEventKind.TX_WRITTEN): RequestStatus.FULFILLING,
    (RequestStatus.SEEN, ChainEventKind.DRY_RUN_FAULTED): RequestStatus.FAILED,
    (RequestStatus.FULFILLING, ChainEventKind.TX_EXPIRED): RequestStatus.SEEN,
    (RequestStatus.FULFILLED, ChainEventKind.DELIVERED): RequestStatus.DELIVERED,
    (RequestStatus.FULFILLED, ChainEventKind.CALLBACK_FAILED): RequestStatus.CALLBACK_FAILED,
    # deliver may be retried by anyone after a callback failure; a later success wins
    (RequestStatus.CALLBACK_FAILED, ChainEventKind.DELIVERED): RequestStatus.DELIVERED,
}
for _status in (RequestStatus.SEEN, RequestStatus.FULFILLING, RequestStatus.FAILED):
    _TRANSITIONS[(_status, ChainEventKind.FULFILLED)] = RequestStatus.FULFILLED


class InvalidTransition(DomainError):
    code = "invalid-transition"


def next_status(current: RequestStatus, event: ChainEventKind) -> RequestStatus:
    """The status after ``event``; ``InvalidTransition`` when the event does not apply."""
    try:
        return _TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidTransition(f"{event.value} does not apply to a {current.value} request") from None


def sources_of(event: ChainEventKind, target: RequestStatus) -> frozenset[RequestStatus]:
    """Statuses from which ``event`` leads to ``target`` (for conditional updates in the database)."""
    return frozenset(s for (s, e), t in _TRANSITIONS.items() if e is event and t is target)


# Cursor -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanRange:
    """Blocks to scan next, inclusive; empty when ``first > last``."""

    first: int
    last: int

    @property
    def empty(self) -> bool:
        return self.first > self.last

    def __len__(self) -> int:
        return max(0, self.last - self.first + 1)


def next_scan(cursor: int | None, head: int, *, start: int, max_blocks: int) -> ScanRange:
    """Which blocks to read given the last fully processed block (``cursor``) and the chain head.

    Args:
        cursor: last block whose events were all applied, or ``None`` before the first scan.
        head: index of the newest block.
        start: first block to read when there is no cursor yet.
        max_blocks: at most this many blocks per scan (catching up is done in steps).
    """
    if max_blocks < 1:
        raise ValueError("max_blocks must be at least 1")
    first = start if cursor is None else cursor + 1
    return ScanRange(first, min(head, first + max_blocks - 1))


def advance_cursor(cursor: int | None, processed: int) -> int:
    """The cursor after ``processed`` was applied: never moves backwards (two watchers may race)."""
    return processed if cursor is None else max(cursor, processed)


# Lease ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lease:
    owner: str | None
    until: datetime | None

    def free_for(self, worker: str, now: datetime) -> bool:
        """A request may be claimed when nobody holds it, the lease has run out, or it is ours."""
        return self.owner is None or self.until is None or self.until <= now or self.owner == worker

    def held_by(self, worker: str, now: datetime) -> bool:
        return self.owner == worker and self.until is not None and self.until > now


def lease_until(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


# Outbox -----------------------------------------------------------------------------------------


class OutboxAction(StrEnum):
    DONE = "done"  # included: nothing more to do
    WAIT = "wait"  # in flight: wait for the next block
    RESEND = "resend"  # not seen for a while: send the same signed bytes again (same hash)
    EXPIRE = "expire"  # past validUntilBlock and not included: rebuild with a new transaction
    RETRY = "retry"  # included but FAULTed on chain: the requests go back to SEEN, their faults counted


def outbox_action(
    *,
    included_block: int | None,
    halted: bool | None,
    height: int,
    valid_until_block: int,
    last_sent_at: datetime | None,
    now: datetime,
    resend_after: timedelta,
) -> OutboxAction:
    """What to do with a pending outbox transaction.

    A transaction whose ``validUntilBlock`` is below the current height can never be included any
    more, so only then is a replacement built: at any moment at most one of our fulfilment
    transactions for a request can make it on chain.
    """
    if included_block is not None:
        return OutboxAction.DONE if halted is not False else OutboxAction.RETRY
    if height >= valid_until_block:  # the next block could only be height + 1 > validUntilBlock
        return OutboxAction.EXPIRE
    if last_sent_at is None or now - last_sent_at >= resend_after:
        return OutboxAction.RESEND
    return OutboxAction.WAIT


# Records ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewRequest[Q]:
    """A request event as the watcher saw it; ``asked`` is what the service needs to answer it."""

    request_id: int
    consumer: str
    asked: Q
    block: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class RequestUpdate:
    """A later event about a request (fulfilled, delivered, callback failed)."""

    request_id: int
    kind: ChainEventKind
    block: int
    tx_hash: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Transitioned:
    """A status change that really happened in the database (counted once across workers)."""

    request_id: int
    status: RequestStatus
    request_block: int
    block: int
    request_time: datetime | None
    block_time: datetime | None
    #: what a tenant watching the consumer hears (``request.*`` events)
    consumer: str | None = None
    #: the transaction of the event that moved it (the request's, the fulfilment's...)
    tx_hash: str | None = None
    #: why a callback or the request failed
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ChainRequest[Q, A]:
    """One on-chain request as stored: the pipeline's facts, what was asked and the last answer sent."""

    service: str
    contract: str
    request_id: int
    consumer: str
    asked: Q
    request_block: int
    request_tx: str
    status: RequestStatus
    attempts: int
    tx_hash: str | None = None
    with_delivery: bool | None = None
    #: the answer of the latest fulfilment written to the outbox (``None`` before the first)
    answer: A | None = None
    fulfilled_block: int | None = None
    fulfilled_tx: str | None = None
    delivered_block: int | None = None
    failure_reason: str | None = None
    callback_failure: str | None = None
    seen_at: datetime | None = None
    #: how many of its fulfilment transactions were included but FAULTed on chain (not expiries)
    chain_faults: int = 0

    @property
    def pending_tx(self) -> str | None:
        """The fulfilment transaction on its way (only while FULFILLING)."""
        return self.tx_hash if self.status is RequestStatus.FULFILLING else None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    tx_hash: str
    raw: bytes
    valid_until_block: int
    send_count: int
    last_sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Fulfilment[A]:
    """One request's part of a fulfilment transaction: the answer recorded with it, and the delivery."""

    request_id: int
    answer: A
    with_delivery: bool
    #: why the callback is not delivered in the same transaction (its dry-run faulted), if so
    callback_failure: str | None = None
    #: tenant events published in the transaction that records this answer (a compute run's owner
    #: hears of the run): they exist exactly when the answer was written
    events: tuple[TenantEvent, ...] = ()


# EVM revert data -----------------------------------------------------------------------------------

#: the selector of Solidity's ``Error(string)`` (``require``/``revert`` with a message)
_ERROR_STRING = bytes.fromhex("08c379a0")
REVERT_TEXT_LIMIT = 256


def revert_text(data: bytes) -> str:
    """EVM revert data as text: an ``Error(string)`` message, else the hex of the data (bounded)."""
    if data[:4] == _ERROR_STRING and len(data) >= 68:
        length = int.from_bytes(data[36:68], "big")
        return data[68 : 68 + length].decode("utf-8", "replace")[:REVERT_TEXT_LIMIT]
    return ("0x" + data.hex())[:REVERT_TEXT_LIMIT] if data else "reverted without data"
