"""Checks of the other oracle nodes' signatures and the oracle nodes' multisig witness, host-side.

A ``submitoracleresponse`` carries a node's signature of a response transaction and its signature of
``submission_message`` (key || request id || transaction signature). Neither lets the host write an
answer: the transaction is the one this node's enclave built and signed from its own reads; the host only
puts, in the witness's invocation script, signatures that verify against that transaction's hash
(``u32le(magic) || sha256(unsigned transaction)``) under a designated key, in the keys' multisig order,
as neo-go's ``finalizeTx`` does. The chain verifies the witness again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from neo3.network.payloads import transaction

from neo_service_layer.enclave.wire.native_oracle import (
    multisig_order,
    multisig_threshold,
    submission_message,
)

_SIGNATURE = 64
_PUSHDATA1_64 = b"\x0c\x40"


def _verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """ECDSA secp256r1 / SHA-256 of ``message`` with a 64-byte ``r || s`` signature."""
    if len(signature) != _SIGNATURE:
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
        der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
        key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _var_bytes(data: bytes) -> bytes:
    size = len(data)
    if size < 0xFD:
        return bytes([size]) + data
    if size <= 0xFFFF:
        return b"\xfd" + size.to_bytes(2, "little") + data
    return b"\xfe" + size.to_bytes(4, "little") + data


def _witnesses(invocation: bytes, verification: bytes) -> bytes:
    """The witness section of a response: count 2, the Oracle contract's empty witness, the multisig."""
    return b"\x02\x00\x00" + _var_bytes(invocation) + _var_bytes(verification)


class NeoMultisig:
    """Implements ``ports.Multisig`` for network ``magic``."""

    def __init__(self, magic: int) -> None:
        self._magic = magic

    def submission_valid(
        self, public_key: bytes, request_id: int, tx_signature: bytes, message_signature: bytes
    ) -> bool:
        message = submission_message(public_key, request_id, tx_signature)
        return _verify(public_key, message_signature, message)

    def complete(
        self, raw: bytes, nodes: Sequence[bytes], signatures: Sequence[tuple[bytes, bytes]]
    ) -> bytes | None:
        tx = transaction.Transaction.deserialize_from_bytes(raw)
        if len(tx.witnesses) != 2:
            raise ValueError("a response transaction has two witnesses")
        verification = bytes(tx.witnesses[1].verification_script)
        tail = _witnesses(bytes(tx.witnesses[1].invocation_script), verification)
        if not raw.endswith(tail):
            raise ValueError("the response transaction's witnesses are not where they were expected")
        unsigned = raw[: -len(tail)]
        signed_data = self._magic.to_bytes(4, "little") + hashlib.sha256(unsigned).digest()
        by_key: dict[bytes, bytes] = {}
        for public_key, signature in signatures:
            if (
                public_key in nodes
                and public_key not in by_key
                and _verify(public_key, signature, signed_data)
            ):
                by_key[public_key] = signature
        needed = multisig_threshold(len(nodes))
        chosen = [by_key[key] for key in multisig_order(nodes) if key in by_key][:needed]
        if len(chosen) < needed:
            return None
        invocation = b"".join(_PUSHDATA1_64 + signature for signature in chosen)
        return unsigned + _witnesses(invocation, verification)
