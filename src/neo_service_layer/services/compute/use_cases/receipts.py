"""Receipts of off-chain runs: their JSON form, and their verification with no server call.

A receipt says: the compute key signed that tenant T ran function F, whose artefact has SHA-256 H, on
the input with SHA-256 I, at time t, with outcome c and the result with SHA-256 R. Whoever holds the
compute key's public key (``network.json``'s ``service_keys.compute``, or ``GET /api/v1/compute/key``)
checks it; with the result and input bytes at hand, also that they are the ones signed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from neo_service_layer.enclave.wire.compute import ReceiptFacts, receipt_message
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import KeyKind, SignatureFormat
from neo_service_layer.services.compute.rules import RunRecord
from neo_service_layer.services.keys.api import PublicKeyOperations

RECEIPT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Receipt:
    tenant: str
    function_id: str
    function_hash: bytes
    input_sha256: bytes
    code: int
    timestamp_ms: int
    result_sha256: bytes
    signature: bytes
    public_key: bytes
    key_version: int

    def message(self) -> bytes:
        return receipt_message(
            ReceiptFacts(
                tenant=self.tenant,
                function_id=self.function_id,
                function_hash=self.function_hash,
                input_hash=self.input_sha256,
                code=self.code,
                timestamp_ms=self.timestamp_ms,
                result_hash=self.result_sha256,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": RECEIPT_VERSION,
            "tenant": self.tenant,
            "functionId": self.function_id,
            "functionHash": self.function_hash.hex(),
            "inputSha256": self.input_sha256.hex(),
            "code": self.code,
            "timestamp": self.timestamp_ms,
            "resultSha256": self.result_sha256.hex(),
            "signature": self.signature.hex(),
            "publicKey": self.public_key.hex(),
            "keyVersion": self.key_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Receipt:
        """Read a receipt's JSON; ``InvalidInput`` naming the first bad field."""
        if data.get("version") != RECEIPT_VERSION:
            raise InvalidInput(f"receipt version must be {RECEIPT_VERSION}")

        def text(name: str) -> str:
            value = data.get(name)
            if not isinstance(value, str):
                raise InvalidInput(f"receipt field {name} must be a string")
            return value

        def number(name: str) -> int:
            value = data.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidInput(f"receipt field {name} must be a non-negative integer")
            return value

        def hexed(name: str, size: int | None) -> bytes:
            try:
                value = bytes.fromhex(text(name))
            except ValueError:
                raise InvalidInput(f"receipt field {name} must be hex") from None
            if size is not None and len(value) != size:
                raise InvalidInput(f"receipt field {name} must be {size} bytes")
            return value

        return cls(
            tenant=text("tenant"),
            function_id=text("functionId"),
            function_hash=hexed("functionHash", 32),
            input_sha256=hexed("inputSha256", 32),
            code=number("code"),
            timestamp_ms=number("timestamp"),
            result_sha256=hexed("resultSha256", 32),
            signature=hexed("signature", 64),
            public_key=hexed("publicKey", None),
            key_version=number("keyVersion"),
        )


def receipt_of(run: RunRecord, public_key: bytes) -> Receipt:
    return Receipt(
        tenant=run.tenant_id,
        function_id=run.function_id,
        function_hash=bytes.fromhex(run.digest),
        input_sha256=bytes.fromhex(run.input_sha256),
        code=run.code,
        timestamp_ms=run.timestamp_ms,
        result_sha256=hashlib.sha256(run.result).digest(),
        signature=run.signature,
        public_key=public_key,
        key_version=run.key_version,
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    problems: list[str]


def verify_receipt(
    receipt: Receipt, trusted_keys: list[bytes], *, result: bytes | None = None, input_text: str | None = None
) -> Verdict:
    """Valid when the signature is a trusted compute key's over the receipt, and the result and input,
    when given, are the signed ones."""
    problems: list[str] = []
    if receipt.public_key not in trusted_keys:
        problems.append("the receipt's public key is not the compute key")
    try:
        signed = PublicKeyOperations().verify(
            KeyKind.SECP256R1,
            SignatureFormat.ECDSA_SHA256,
            receipt.public_key,
            receipt.message(),
            receipt.signature,
        )
    except (ValueError, InvalidInput):
        signed = False
    if not signed:
        problems.append("the signature does not match the receipt")
    if result is not None and hashlib.sha256(result).digest() != receipt.result_sha256:
        problems.append("the result is not the one signed")
    if input_text is not None and hashlib.sha256(input_text.encode()).digest() != receipt.input_sha256:
        problems.append("the input is not the one signed")
    return Verdict(not problems, problems)
