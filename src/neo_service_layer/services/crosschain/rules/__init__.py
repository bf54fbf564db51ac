"""Cross-chain messages as the relaying service tracks them: states, ids, what a gateway's events mean.

A message is known by its source chain's cross-chain id and its nonce there (one gateway per chain).
Its delivery on the destination chain goes ``seen`` -> ``delivering`` (our ``deliver`` transaction in the
outbox) -> ``executed`` (the receiver ran) or ``failed`` (the receiver reverted: the message stays
deliverable, anyone may ``retry`` it, the reason is kept); ``refused`` when the destination gateway
will never take it (its dry run names why). Its receipt (the outcome of each attempt, for the sender to
read on its own chain) is ``none`` -> ``due`` (an attempt not yet carried back) -> ``sending`` ->
``stored`` (the source gateway's ``ReceiptStored`` of that attempt). The outcome's reason and the
relayer's note on why it gave a message back are kept apart: the relayer gives back messages that already
ran (their receipts), and its note must not replace a receiver's revert reason.

Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MessageStatus(StrEnum):
    SEEN = "seen"
    DELIVERING = "delivering"
    EXECUTED = "executed"
    FAILED = "failed"
    REFUSED = "refused"


class ReceiptStatus(StrEnum):
    NONE = "none"
    DUE = "due"
    SENDING = "sending"
    STORED = "stored"


def message_id(src_chain: int, nonce: int) -> str:
    """The public id of a message: ``<source chain id>-<nonce>``."""
    return f"{src_chain}-{nonce}"


def parse_message_id(value: str) -> tuple[int, int] | None:
    """``(source chain id, nonce)`` of a public id, ``None`` if it is not one."""
    chain, sep, nonce = value.partition("-")
    if not sep or not chain.isdigit() or not nonce.isdigit() or len(chain) > 20 or len(nonce) > 19:
        return None
    return int(chain), int(nonce)


@dataclass(frozen=True, slots=True)
class Sent:
    """A gateway's ``MessageSent``: a new outbound message of ``src_chain``."""

    src_chain: int
    nonce: int
    sender: bytes
    dest_chain: int
    receiver: bytes
    payload: bytes
    gas_limit: int
    fee: int
    block: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class Executed:
    """A gateway's ``MessageExecuted``: attempt ``attempt`` of an inbound message ran (``ok``) or reverted."""

    src_chain: int
    nonce: int
    attempt: int
    ok: bool
    result: bytes
    block: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class ReceiptStored:
    """A gateway's ``ReceiptStored``: the receipt of attempt ``attempt`` of its own message ``nonce``."""

    src_chain: int
    nonce: int
    attempt: int
    block: int
    tx_hash: str


type GatewayEvent = Sent | Executed | ReceiptStored


@dataclass(frozen=True, slots=True)
class Message:
    """A message as the service stored it (accounts as 20 raw bytes)."""

    src_chain: int
    nonce: int
    dest_chain: int
    sender: bytes
    receiver: bytes
    payload: bytes
    gas_limit: int
    fee: int
    src_block: int
    src_tx: str
    status: MessageStatus
    attempts: int
    deliver_tx: str | None
    dest_block: int | None
    dest_tx: str | None
    result: bytes | None
    #: the outcome's reason: the receiver's revert reason (``failed``), why it was ``refused``
    reason: str | None
    #: the relayer's latest "why I gave it back" (a wait, someone else carrying it); ``None`` once it
    #: moves on
    relay_note: str | None
    receipt_status: ReceiptStatus
    receipt_attempt: int
    receipt_tx: str | None
    receipt_block: int | None

    @property
    def id(self) -> str:
        return message_id(self.src_chain, self.nonce)
