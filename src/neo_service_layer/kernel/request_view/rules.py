"""Why an on-chain request is where it is: a reason derived from stored facts only (standard library).

Every reason names facts the pipeline recorded (``chain_requests``, ``chain_outbox``, the watcher's
cursor, the chain's height, worker heartbeats); a state the data cannot show (a paused service, an
unconfirmed block of a request not yet recorded) is never claimed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from neo_service_layer.enclave.wire.errors import InvalidInput

#: the scope that lets a tenant see a service's requests (operators holding ``platform:admin`` see all);
#: the pipeline's service names, mapped to the scope of that service's own request routes
SERVICE_SCOPES: dict[str, str] = {
    "randomness": "randomness:request",
    "randomness-evm": "randomness:request",
    "oracle": "oracle:request",
    "oracle-evm": "oracle:request",
    "native-oracle": "oracle:request",
    "compute": "compute:read",
    "automation": "automation:read",
}

STATES = ("seen", "fulfilling", "fulfilled", "delivered", "callback_failed", "failed")


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """One ``chain_requests`` row."""

    service: str
    contract: str
    request_id: int
    consumer: str
    status: str
    attempts: int
    request_block: int
    request_tx: str
    seen_at: datetime
    updated_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None
    tx_hash: str | None = None
    with_delivery: bool | None = None
    fulfilled_block: int | None = None
    fulfilled_tx: str | None = None
    delivered_block: int | None = None
    failure_reason: str | None = None
    callback_failure: str | None = None
    chain_faults: int = 0


@dataclass(frozen=True, slots=True)
class OutboxFacts:
    """The ``chain_outbox`` row of a FULFILLING request's transaction."""

    tx_hash: str
    status: str
    send_count: int
    valid_until_block: int
    last_sent_at: datetime | None = None
    included_block: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Surroundings:
    """What else is known when the reason is given; ``None``: not known (no chain, no heartbeats)."""

    now: datetime
    height: int | None = None
    watcher_block: int | None = None
    live_workers: int | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """``code`` for programs, ``text`` for people; ``stuck``: it will not move without someone acting
    (a worker to start, a transaction to be rebuilt, a failure to look at)."""

    code: str
    text: str
    stuck: bool


def moment_text(moment: datetime | None) -> str:
    """A stored time as a reason shows it (seconds, UTC offset), or "an unknown time"."""
    return moment.isoformat(timespec="seconds") if moment is not None else "an unknown time"


def reason_of(request: RequestFacts, outbox: OutboxFacts | None, around: Surroundings) -> Reason | None:
    """Why the request is where it is; ``None`` once it is done (delivered, or answered without a
    callback problem)."""
    status = request.status
    if status == "delivered":
        return None
    if status == "failed":
        why = request.failure_reason or "no reason was recorded"
        return Reason("failed", f"not answered: {why}", True)
    if status == "callback_failed":
        why = request.callback_failure or "no reason was recorded"
        return Reason("callback_failed", f"answered, but the consumer's callback failed: {why}", True)
    if status == "fulfilled":
        if request.callback_failure:
            text = f"answered without its callback, whose dry-run faulted: {request.callback_failure}"
            return Reason("callback_not_delivered", text, True)
        return None
    if status == "fulfilling":
        return _fulfilling(request, outbox, around)
    if status == "seen":
        return _seen(request, around)
    return Reason("unknown_state", f"stored in a state this view does not know: {status}", True)


def _fulfilling(request: RequestFacts, outbox: OutboxFacts | None, around: Surroundings) -> Reason:
    tx = request.tx_hash or "(none)"
    if outbox is None:
        return Reason("tx_missing", f"waiting for transaction {tx}, which is not in the outbox", True)
    if outbox.included_block is not None:
        block = outbox.included_block
        if around.watcher_block is not None and around.watcher_block < block:
            text = (
                f"transaction {tx} is in block {block}; the watcher has applied blocks up to "
                f"{around.watcher_block}"
            )
            return Reason("awaiting_watcher", text, False)
        return Reason("tx_included", f"transaction {tx} is in block {block}; its events are due", False)
    valid = outbox.valid_until_block
    if around.height is not None and around.height >= valid:
        text = f"transaction {tx} was not included by block {valid} (chain at {around.height}): it is rebuilt"
        return Reason("tx_expired", text, False)
    sent = f"sent {outbox.send_count} time(s), last at {moment_text(outbox.last_sent_at)}"
    height = f"chain at {around.height}" if around.height is not None else "chain height unknown"
    if outbox.last_error:
        text = f"transaction {tx} {sent}, last send failed: {outbox.last_error} (valid until block {valid})"
        return Reason("tx_send_error", text, True)
    if outbox.send_count == 0:
        return Reason("tx_unsent", f"transaction {tx} is in the outbox, not sent yet ({height})", False)
    text = f"transaction {tx} {sent}, not yet in a block; valid until block {valid} ({height})"
    return Reason("tx_not_included", text, False)


def _seen(request: RequestFacts, around: Surroundings) -> Reason:
    lease_live = request.lease_until is not None and request.lease_until > around.now
    if request.lease_owner is not None and lease_live:
        text = (
            f"being answered by worker {request.lease_owner}, lease until {moment_text(request.lease_until)}"
        )
        return Reason("leased", f"{text} (attempt {request.attempts})", False)
    if around.live_workers == 0:
        return Reason("no_worker", "waiting for a worker: no worker has sent a heartbeat recently", True)
    if request.chain_faults:
        text = (
            f"{request.chain_faults} fulfilment transaction(s) faulted on chain; waiting to be claimed "
            "again (answered alone from now on)"
        )
        return Reason("chain_fault_retry", text, False)
    if request.lease_owner is not None:
        text = (
            f"the lease of worker {request.lease_owner} ran out at {moment_text(request.lease_until)} after "
            f"{request.attempts} attempt(s); waiting to be claimed again"
        )
        return Reason("lease_expired", text, False)
    if request.attempts:
        text = f"waiting to be claimed again after {request.attempts} attempt(s)"
        return Reason("waiting_retry", text, False)
    return Reason(
        "waiting_claim", f"waiting for a worker to claim it (seen {moment_text(request.seen_at)})", False
    )


# Paging ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last row's sort key (newest first)."""

    seen_at: datetime
    service: str
    contract: str
    request_id: int


def pack_cursor(values: list[str | int]) -> str:
    """An opaque page cursor holding ``values`` (a row's sort key)."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def unpack_cursor(text: str, size: int) -> list[object]:
    """The ``size`` values a cursor of ``pack_cursor`` holds; ``InvalidInput`` for anything else (the
    caller checks their types)."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this list handed out") from None
    if not isinstance(raw, list) or len(raw) != size:
        raise InvalidInput("cursor is not one this list handed out")
    return raw


def encode_cursor(position: Position) -> str:
    return pack_cursor(
        [position.seen_at.isoformat(), position.service, position.contract, position.request_id]
    )


def decode_cursor(text: str) -> Position:
    """The position a cursor names; ``InvalidInput`` when it is not one this view handed out."""
    seen, service, contract, request_id = unpack_cursor(text, 4)
    try:
        if not (
            isinstance(seen, str)
            and isinstance(service, str)
            and isinstance(contract, str)
            and type(request_id) is int
        ):
            raise ValueError("bad types")
        return Position(datetime.fromisoformat(seen), service, contract, request_id)
    except (ValueError, TypeError):
        raise InvalidInput("cursor is not one this list handed out") from None
