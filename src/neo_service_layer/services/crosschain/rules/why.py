"""Why a cross-chain message is where it is: a reason derived from stored facts only (standard library).

The facts are the message's row (``crosschain_messages``: status, lease, attempts, the outcome's reason
the receiver or a refusal left, the note the relayer left when it last gave the message back, the
receipt's state), the ``chain_outbox`` row of its ``deliver`` transaction and how many workers sent a
heartbeat recently. What each state means comes from ``use_cases/deliver.py``
and ``use_cases/watch.py``:

- ``seen``: the relayer of the destination chain claims it under a lease, has the enclave sign it and
  writes ``deliver`` to the outbox (-> ``delivering``); when the gateway's dry run says "later" (a
  paused direction, no route yet), the enclave's caps refuse the transaction or someone else carried
  it, the message is given back with that reason and claimed again a few seconds later;
- ``delivering``: ``deliver`` is in the outbox, sent and resent by the outbox relay until it is in a
  block (the watcher then reads ``MessageExecuted``) or can never be (the message goes back to ``seen``);
- ``executed`` / ``failed``: an attempt ran on the destination (``failed``: the receiver reverted). The
  relayer never delivers a failed message again: anyone may run it again through the destination gateway
  (N3 ``execute``, Neo X ``retry``), and the watcher records that attempt. Each attempt's receipt is
  carried back to the source (``due`` -> ``sending`` -> ``stored``); a receipt given back carries the
  relayer's note, a failed message keeps its revert reason beside it;
- ``refused``: the destination gateway will never take it (its dry run or the enclave said why); the
  relayer never sends it.

``None`` only for a message executed whose receipt is stored: nothing is left to do. A refused or
failed message keeps a reason (stuck: only a person, or anyone calling the gateway, can move it). A
state the data cannot show (a chain's height, whether a paused direction was resumed) is never claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.request_view.rules import Reason, pack_cursor, unpack_cursor
from neo_service_layer.kernel.request_view.rules import moment_text as _at

from . import Message, MessageStatus, ReceiptStatus

#: what the relayer notes (``Message.relay_note``) when it gives a message back for a reason only a
#: person can remove (the gateway's ``DeliveringPaused`` / ``UnknownRoute``, the enclave refusing a
#: transaction above its caps or a receipt), with the code the view gives it (``use_cases/deliver.py``
#: writes these texts)
OPERATOR_WAITS: tuple[tuple[str, str], ...] = (
    ("DeliveringPaused", "direction_paused"),
    ("UnknownRoute", "route_unknown"),
    ("the enclave does not sign this transaction", "enclave_caps"),
    ("receipt refused", "receipt_refused"),
)
#: the outbox states from which a transaction can never be included
ABANDONED = frozenset({"expired", "faulted", "replaced"})


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One ``crosschain_messages`` row: the message and what only the relayer's table knows."""

    message: Message
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryTx:
    """The ``chain_outbox`` row of the message's ``deliver_tx`` (service ``crosschain-n3`` / ``-evm``)."""

    tx_hash: str
    service: str
    status: str
    send_count: int
    valid_until_block: int
    last_sent_at: datetime | None = None
    included_block: int | None = None
    last_error: str | None = None

    @property
    def expires(self) -> bool:
        """An N3 transaction has a last block; an EVM one never expires (its nonce decides)."""
        return not self.service.endswith("-evm")


@dataclass(frozen=True, slots=True)
class Around:
    """What else is known: the time, and how many workers are alive (``None``: not known)."""

    now: datetime
    live_workers: int | None = None


def why(stored: StoredMessage, delivery: DeliveryTx | None, around: Around) -> Reason | None:
    """Why the message is where it is; ``None`` once it ran and its receipt is stored."""
    status = stored.message.status
    if status is MessageStatus.SEEN:
        return _seen(stored, delivery, around)
    if status is MessageStatus.DELIVERING:
        return _delivering(stored.message, delivery, around)
    if status is MessageStatus.EXECUTED:
        return _receipt(stored, around, "executed")
    if status is MessageStatus.FAILED:
        return _failed(stored, around)
    why_not = stored.message.reason or "no reason was recorded"
    return Reason("refused", f"refused, never sent: {why_not}", True)


def _no_worker(around: Around) -> Reason | None:
    if around.live_workers == 0:
        return Reason("no_worker", "waiting for a worker: no worker has sent a heartbeat recently", True)
    return None


def _leased(stored: StoredMessage, around: Around, doing: str) -> Reason | None:
    if stored.lease_owner is not None and stored.lease_until is not None and stored.lease_until > around.now:
        text = f"{doing} by worker {stored.lease_owner}, lease until {_at(stored.lease_until)}"
        return Reason("leased", text, False)
    return None


def _given_back(reason: str, until: datetime | None, around: Around) -> Reason:
    """The relayer released the message with ``reason``; it claims it again from ``until``."""
    when = f"until {_at(until)}" if until is not None and until > around.now else "claimable again now"
    for marker, code in OPERATOR_WAITS:
        if marker in reason:
            return Reason(
                code, f"the relayer waits ({when}) on something only an operator changes: {reason}", True
            )
    if reason.startswith("carried by someone else"):
        return Reason("carried_elsewhere", f"{reason} ({when})", False)
    return Reason("relay_waiting", f"the relayer gave it back ({when}): {reason}", False)


def _seen(stored: StoredMessage, delivery: DeliveryTx | None, around: Around) -> Reason:
    message = stored.message
    leased = _leased(stored, around, "being signed and delivered")
    if leased is not None:
        return leased
    idle = _no_worker(around)
    if idle is not None:
        return idle
    if message.relay_note:
        return _given_back(message.relay_note, stored.lease_until, around)
    if delivery is not None and delivery.status in ABANDONED:
        text = (
            f"its delivery {delivery.tx_hash} can never be included ({delivery.status}); "
            "waiting to be signed and delivered again"
        )
        return Reason("redelivery", text, False)
    if stored.lease_owner is not None:
        text = (
            f"the lease of worker {stored.lease_owner} ran out at {_at(stored.lease_until)}; "
            "waiting to be claimed again"
        )
        return Reason("lease_expired", text, False)
    return Reason(
        "waiting_claim", f"waiting for the relayer to claim it (seen {_at(stored.created_at)})", False
    )


def _delivering(message: Message, delivery: DeliveryTx | None, around: Around) -> Reason:
    tx = message.deliver_tx or "(none)"
    if delivery is None:
        return Reason("tx_missing", f"waiting for delivery {tx}, which is not in the outbox", True)
    idle = _no_worker(around)
    if delivery.included_block is not None:
        text = f"delivery {tx} is in block {delivery.included_block}; the watcher reads its outcome next"
        return idle or Reason("tx_included", text, False)
    if delivery.status in ABANDONED:
        text = (
            f"delivery {tx} can never be included ({delivery.status}) but the message was not given back "
            "to the relayer"
        )
        return Reason("tx_abandoned", text, True)
    if idle is not None:
        return idle
    valid = f"; valid until block {delivery.valid_until_block}" if delivery.expires else ""
    sent = f"sent {delivery.send_count} time(s), last at {_at(delivery.last_sent_at)}"
    if delivery.last_error:
        text = f"delivery {tx} {sent}, last send failed: {delivery.last_error}{valid}"
        return Reason("tx_send_error", text, True)
    if delivery.send_count == 0:
        return Reason("tx_unsent", f"delivery {tx} is in the outbox, not sent yet{valid}", False)
    return Reason("tx_not_included", f"delivery {tx} {sent}, not yet in a block{valid}", False)


def _receipt(stored: StoredMessage, around: Around, outcome: str) -> Reason | None:
    """The receipt of the latest attempt: carried back to the source chain, or why not yet."""
    message = stored.message
    attempt = f"attempt {message.attempts}"
    if message.receipt_status is ReceiptStatus.STORED:
        return None
    if message.receipt_status is ReceiptStatus.NONE:
        return Reason("receipt_missing", f"{outcome} ({attempt}), but no receipt is recorded as due", True)
    if message.receipt_status is ReceiptStatus.SENDING:
        text = f"{outcome} ({attempt}); its receipt {message.receipt_tx or '(none)'} is on its way back"
        return _no_worker(around) or Reason("receipt_sending", text, False)
    leased = _leased(stored, around, f"{outcome} ({attempt}); its receipt is being carried back")
    if leased is not None:
        return leased
    idle = _no_worker(around)
    if idle is not None:
        return idle
    if message.relay_note:
        return _given_back(message.relay_note, stored.lease_until, around)
    return Reason("receipt_due", f"{outcome} ({attempt}); its receipt is due to be carried back", False)


def _failed(stored: StoredMessage, around: Around) -> Reason:
    message = stored.message
    cause = message.reason or "no reason was recorded"
    receipt = _receipt(stored, around, "failed")
    back = "its receipt is stored" if receipt is None else f"receipt: {receipt.text}"
    text = (
        f"the receiver reverted on attempt {message.attempts}: {cause}. The relayer does not retry it: "
        f"anyone may run it again through the destination gateway; {back}"
    )
    return Reason("receiver_failed", text, True)


# Paging ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last row's sort key (newest first)."""

    created_at: datetime
    src_chain: int
    nonce: int


def encode_cursor(position: Position) -> str:
    return pack_cursor([position.created_at.isoformat(), str(position.src_chain), position.nonce])


def decode_cursor(text: str) -> Position:
    """The position a cursor names; ``InvalidInput`` when it is not one this list handed out."""
    created, chain, nonce = unpack_cursor(text, 3)
    try:
        if not (isinstance(created, str) and isinstance(chain, str) and type(nonce) is int):
            raise ValueError("bad types")
        if not (chain.isascii() and chain.isdigit() and len(chain) <= 20 and 0 <= nonce < 2**63):
            raise ValueError("out of range")
        at = datetime.fromisoformat(created)
        if at.tzinfo is None:
            raise ValueError("no time zone")
        return Position(at, int(chain), nonce)
    except (ValueError, TypeError):
        raise InvalidInput("cursor is not one this list handed out") from None
