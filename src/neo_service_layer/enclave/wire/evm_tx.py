"""EIP-1559 (type 2) EVM transactions: the structured fields the enclave signs and their RLP encoding.

Standard library only, shared by the enclave (``enclave/evm_tx_signing.py`` builds the bytes it signs
from these fields, never from bytes the host chose) and the host (``EnclaveEvmSigner`` sends the fields
and checks the answer). Encodings (EIP-2718, EIP-1559)::

    unsigned = 0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data,
                            accessList])
    signed   = 0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data,
                            accessList, yParity, r, s])
    hash     = keccak256(signed)

The sender signs ``keccak256(unsigned)``; integers are big-endian without leading zeros (zero is the
empty string), ``to`` is the 20-byte address (the empty string only for a contract creation, which the
enclave never signs), the access list is always empty.

Wire arguments of ``evm_sign_transaction`` (binary values base64)::

    {"key_id": str, "version": int | null, "chain_id": int, "nonce": int, "to": b64 (20) | null,
     "data": b64, "gas": int, "max_fee_per_gas": int, "max_priority_fee_per_gas": int, "value": int}

Result: ``{"raw": b64, "hash": b64 (32), "sender": b64 (20)}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.keys import InvalidKeyRequest

TX_TYPE: Final = 2
ADDRESS_BYTES: Final = 20
HASH_BYTES: Final = 32
_U64_LIMIT: Final = 2**64
_U256_LIMIT: Final = 2**256

RlpItem = bytes | Sequence["RlpItem"]


def _check_int(name: str, value: int, limit: int, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < limit:
        raise InvalidKeyRequest(f"{name} must be an integer from {minimum} to {limit - 1}")


@dataclass(frozen=True, slots=True)
class Eip1559Transaction:
    """The fields of one type-2 transaction; ``to`` None is a contract creation."""

    chain_id: int
    nonce: int
    to: bytes | None
    data: bytes
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    value: int = 0

    def __post_init__(self) -> None:
        _check_int("chain_id", self.chain_id, _U64_LIMIT, minimum=1)
        _check_int("nonce", self.nonce, _U64_LIMIT - 1)  # EIP-2681: below 2^64-1
        _check_int("gas", self.gas, _U64_LIMIT)
        _check_int("max_fee_per_gas", self.max_fee_per_gas, _U256_LIMIT)
        _check_int("max_priority_fee_per_gas", self.max_priority_fee_per_gas, _U256_LIMIT)
        _check_int("value", self.value, _U256_LIMIT)
        if self.to is not None and (not isinstance(self.to, bytes) or len(self.to) != ADDRESS_BYTES):
            raise InvalidKeyRequest("to must be a 20-byte address")
        if not isinstance(self.data, bytes):
            raise InvalidKeyRequest("data must be bytes")
        if self.max_priority_fee_per_gas > self.max_fee_per_gas:
            raise InvalidKeyRequest("max_priority_fee_per_gas must not exceed max_fee_per_gas")

    def fields(self) -> list[RlpItem]:
        """The RLP list of the unsigned transaction (without the type byte)."""
        return [
            _int(self.chain_id),
            _int(self.nonce),
            _int(self.max_priority_fee_per_gas),
            _int(self.max_fee_per_gas),
            _int(self.gas),
            self.to if self.to is not None else b"",
            _int(self.value),
            self.data,
            [],
        ]

    def to_wire(self) -> dict[str, Any]:
        """The transaction's fields as ``evm_sign_transaction`` arguments (without the key)."""
        return {
            "chain_id": self.chain_id,
            "nonce": self.nonce,
            "to": None if self.to is None else b64encode(self.to),
            "data": b64encode(self.data),
            "gas": self.gas,
            "max_fee_per_gas": self.max_fee_per_gas,
            "max_priority_fee_per_gas": self.max_priority_fee_per_gas,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class SignedEvmTransaction:
    """A signed type-2 transaction as broadcast (``raw``), its hash and its sender's address."""

    raw: bytes
    tx_hash: bytes
    sender: bytes

    @property
    def hash_text(self) -> str:
        return "0x" + self.tx_hash.hex()


def _int(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    encoded = _int(length)
    return bytes([offset + 55 + len(encoded)]) + encoded


def rlp_encode(item: RlpItem) -> bytes:
    """Recursive Length Prefix encoding of a byte string or a (nested) list of them."""
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _length_prefix(len(item), 0x80) + item
    body = b"".join(rlp_encode(x) for x in item)
    return _length_prefix(len(body), 0xC0) + body


def unsigned_payload(tx: Eip1559Transaction) -> bytes:
    """``0x02 || rlp(fields)``: its Keccak-256 is what the sender signs."""
    return bytes([TX_TYPE]) + rlp_encode(tx.fields())


def signed_payload(tx: Eip1559Transaction, y_parity: int, r: int, s: int) -> bytes:
    """``0x02 || rlp(fields + [yParity, r, s])``: the raw transaction ``eth_sendRawTransaction`` takes."""
    if y_parity not in (0, 1):
        raise InvalidKeyRequest("y_parity must be 0 or 1")
    _check_int("r", r, _U256_LIMIT, minimum=1)
    _check_int("s", s, _U256_LIMIT, minimum=1)
    return bytes([TX_TYPE]) + rlp_encode([*tx.fields(), _int(y_parity), _int(r), _int(s)])
