"""Cross-chain messages between Neo N3 and Neo X (EVM): the signed byte format and ``crosschain_sign``'s
wire arguments and result. Standard library only.

A message gateway on each chain (``contracts/evm/MessageGateway.sol``,
``services/crosschain/contracts/message_gateway.py``) numbers what a sender sends and emits it; the
enclave's ``crosschain_sign`` (``enclave/crosschain.py``) reads that event from its OWN node of the source
chain, given only a pointer (chain, transaction hash, nonce), and signs the digest the destination
gateway rebuilds. The same op signs a RECEIPT: the outcome of one delivery attempt, read from the
destination gateway's ``MessageExecuted`` event, for the source gateway (where the sender reads it).

Digest (V1; integers big-endian of the width given, account fields 20 bytes)::

    preimage = "NSL-XMSG-V1" || u8 kind || u64 srcChain || u64 destChain || srcContract(20) || u64 nonce
               || sender(20) || receiver(20) || u64 value || keccak256(payload)
    digest   = keccak256(preimage)

- kind 1 (MESSAGE): ``value`` is the message's gas limit (EVM gas on Neo X; GAS fractions on N3);
- kind 2 (RECEIPT): srcChain/srcContract are the chain and gateway that executed the message, destChain
  the message's source chain, nonce the message's nonce, sender the message's receiver, receiver the
  message's sender, ``value`` the attempt number (1 = the delivery, then each retry) and payload
  ``u8 ok || result`` (``result``: the receiver's return value, or its revert data / fault message, at
  most ``MAX_RESULT_BYTES``).

Accounts: an EVM address is its 20 bytes; an N3 script hash is its 20 bytes as the NeoVM holds them
(little-endian: the reverse of the ``0x...`` text). Chain ids: an EVM chain is its chain id (below 2^63);
an N3 network is ``2^63 + network magic`` (``n3_chain_id``), so no N3 magic can pass for an EVM chain id.

Signatures: for an EVM destination 65 bytes r || s || v (v 27/28, low s) over the digest (``ecrecover``);
for an N3 destination 64 bytes r || s (low s) over the same digest (``CryptoLib.verifyWithECDsa`` with
secp256k1 / Keccak-256 over the preimage).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.errors import InvalidInput

TAG: Final = b"NSL-XMSG-V1"
KIND_MESSAGE: Final = 1
KIND_RECEIPT: Final = 2
ACCOUNT_BYTES: Final = 20
HASH_BYTES: Final = 32
MAX_RESULT_BYTES: Final = 256
#: an N3 network's cross-chain id is this plus its network magic
N3_CHAIN_BASE: Final = 2**63
_U64_LIMIT: Final = 2**64
_TX_HASH_HEX: Final = 64


class XKind(StrEnum):
    MESSAGE = "message"
    RECEIPT = "receipt"

    @property
    def code(self) -> int:
        return KIND_MESSAGE if self is XKind.MESSAGE else KIND_RECEIPT


def n3_chain_id(magic: int) -> int:
    """The cross-chain id of the Neo N3 network with ``magic``."""
    if not 0 < magic < 2**32:
        raise InvalidInput("an N3 network magic is between 1 and 2^32-1")
    return N3_CHAIN_BASE + magic


def is_n3_chain(chain_id: int) -> bool:
    return N3_CHAIN_BASE < chain_id < N3_CHAIN_BASE + 2**32


def _u64(name: str, value: int, *, minimum: int = 0) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < _U64_LIMIT:
        raise InvalidInput(f"{name} must be an integer between {minimum} and 2^64-1")
    return value.to_bytes(8, "big")


def _account(name: str, value: bytes) -> bytes:
    if not isinstance(value, bytes) or len(value) != ACCOUNT_BYTES:
        raise InvalidInput(f"{name} must be {ACCOUNT_BYTES} bytes")
    return value


@dataclass(frozen=True, slots=True)
class XFacts:
    """One signed item: a MESSAGE or a RECEIPT (see the module docstring for the fields)."""

    kind: XKind
    src_chain: int
    dest_chain: int
    src_contract: bytes
    nonce: int
    sender: bytes
    receiver: bytes
    value: int
    payload: bytes

    def __post_init__(self) -> None:
        _u64("source chain", self.src_chain, minimum=1)
        _u64("destination chain", self.dest_chain, minimum=1)
        if self.src_chain == self.dest_chain:
            raise InvalidInput("source and destination chain are the same")
        _u64("nonce", self.nonce, minimum=1)
        _u64("value", self.value)
        for name in ("src_contract", "sender", "receiver"):
            _account(name, getattr(self, name))
        if not isinstance(self.payload, bytes):
            raise InvalidInput("payload must be bytes")


def preimage(facts: XFacts, payload_hash: bytes) -> bytes:
    """The bytes whose Keccak-256 is signed; ``payload_hash`` is ``keccak256(facts.payload)`` (Keccak is
    not in the standard library: the caller computes it)."""
    if len(payload_hash) != HASH_BYTES:
        raise InvalidInput("the payload hash is 32 bytes")
    return (
        TAG
        + bytes([facts.kind.code])
        + _u64("source chain", facts.src_chain, minimum=1)
        + _u64("destination chain", facts.dest_chain, minimum=1)
        + facts.src_contract
        + _u64("nonce", facts.nonce, minimum=1)
        + facts.sender
        + facts.receiver
        + _u64("value", facts.value)
        + payload_hash
    )


def receipt_payload(ok: bool, result: bytes) -> bytes:
    """A RECEIPT's payload: ``u8 ok || result``."""
    if len(result) > MAX_RESULT_BYTES:
        raise InvalidInput(f"a result is at most {MAX_RESULT_BYTES} bytes")
    return (b"\x01" if ok else b"\x00") + result


def split_receipt_payload(payload: bytes) -> tuple[bool, bytes]:
    """``(ok, result)`` of a RECEIPT's payload."""
    if not payload or payload[0] not in (0, 1):
        raise InvalidInput("a receipt payload starts with 0 or 1")
    return payload[0] == 1, payload[1:]


@dataclass(frozen=True, slots=True)
class SourcePointer:
    """What the host gives ``crosschain_sign``: where the event is, nothing of its content.

    ``chain_id``: the chain whose gateway emitted the event (the message's source chain for a MESSAGE,
    the executing chain for a RECEIPT); ``tx_hash``: the transaction (``0x`` + 64 hex digits);
    ``nonce``: the message's nonce; for a RECEIPT also ``peer_chain``: the message's source chain (a
    transaction may execute messages of several chains with the same nonce).
    """

    kind: XKind
    chain_id: int
    tx_hash: str
    nonce: int
    peer_chain: int = 0

    def __post_init__(self) -> None:
        _u64("chain id", self.chain_id, minimum=1)
        _u64("nonce", self.nonce, minimum=1)
        text = self.tx_hash
        if not isinstance(text, str) or not text.startswith("0x") or len(text) != 2 + _TX_HASH_HEX:
            raise InvalidInput("a transaction hash is 0x followed by 64 hex digits")
        try:
            bytes.fromhex(text[2:])
        except ValueError:
            raise InvalidInput("a transaction hash is 0x followed by 64 hex digits") from None
        if self.kind is XKind.RECEIPT:
            _u64("peer chain", self.peer_chain, minimum=1)

    def to_wire(self, key_id: str) -> dict[str, Any]:
        args: dict[str, Any] = {
            "key_id": key_id,
            "kind": self.kind.value,
            "chain_id": self.chain_id,
            "tx_hash": self.tx_hash.lower(),
            "nonce": self.nonce,
        }
        if self.kind is XKind.RECEIPT:
            args["peer_chain"] = self.peer_chain
        return args


@dataclass(frozen=True, slots=True)
class SignedXMessage:
    """``crosschain_sign``'s answer: the facts the enclave read, the digest and the signature (65 bytes
    r || s || v for an EVM destination, 64 bytes r || s for an N3 one)."""

    facts: XFacts
    digest: bytes
    signature: bytes

    def to_wire(self) -> dict[str, Any]:
        f = self.facts
        return {
            "kind": f.kind.value,
            "src_chain": f.src_chain,
            "dest_chain": f.dest_chain,
            "src_contract": b64encode(f.src_contract),
            "nonce": f.nonce,
            "sender": b64encode(f.sender),
            "receiver": b64encode(f.receiver),
            "value": f.value,
            "payload": b64encode(f.payload),
            "digest": b64encode(self.digest),
            "signature": b64encode(self.signature),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> SignedXMessage:
        try:
            facts = XFacts(
                kind=XKind(data["kind"]),
                src_chain=int(data["src_chain"]),
                dest_chain=int(data["dest_chain"]),
                src_contract=b64decode(data["src_contract"]),
                nonce=int(data["nonce"]),
                sender=b64decode(data["sender"]),
                receiver=b64decode(data["receiver"]),
                value=int(data["value"]),
                payload=b64decode(data["payload"]),
            )
            return cls(facts, b64decode(data["digest"]), b64decode(data["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed crosschain_sign answer: {type(exc).__name__}") from None
