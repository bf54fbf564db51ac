"""The randomness service's signed byte formats, built inside the enclave (standard library only).

The enclave's ``randomness_fulfil`` operation (``enclave/randomness.py``) builds these messages itself from
the request's chain facts; the host never supplies a message, an output or a proof. The randomness
contract (``services/randomness/contracts/randomness_service.py``) rebuilds the fulfil message from its
own network magic, its own script hash and the request's stored consumer, so an answer signed for
another network, another deployment or another consumer does not verify. Off-chain verifiers use the
same functions (``services/randomness/adapters/proofs.py``).

Encodings (V2; mirrored exactly by the contract, see ``contracts/README.md``):

- ``u32le(magic)``: the Neo network magic, 4 bytes little-endian unsigned (``Runtime.GetNetwork()``).
- ``contract``, ``consumer``: 20-byte script hashes as NeoVM stores them (``UInt160`` bytes, i.e. the
  reverse of the usual ``0x...`` big-endian text).
- ``u64le(requestId)``: the request id, 8 bytes little-endian, ``0 <= id < 2**63``.
- VRF input: ``b"NSL-RANDOMNESS-VRF-V2" || u32le(magic) || contract || u64le(requestId) || seed``
  (seed: 32 bytes). ``proof`` = BLS12-381 signature over it (96-byte compressed G2; public key in G1).
- ``output = SHA-256(proof)``.
- Fulfil message (secp256r1 ECDSA over its SHA-256, 64-byte ``r || s``):
  ``b"NSL-RANDOMNESS-V2" || u32le(magic) || contract || u64le(requestId) || consumer || seed || output
  || SHA-256(proof)``.

Off-chain answers (``POST /api/v1/randomness``) use ``OFFCHAIN_MAGIC`` (0, no Neo network has it) and
``OFFCHAIN_CONTRACT`` (20 zero bytes, no deployed contract has it), and as consumer
``offchain_consumer(tenant)``; no on-chain request has these facts, so an off-chain answer can never be
submitted to a contract.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from neo_service_layer.enclave.wire.errors import InvalidInput

FULFIL_TAG: Final = b"NSL-RANDOMNESS-V2"
VRF_TAG: Final = b"NSL-RANDOMNESS-VRF-V2"
OFFCHAIN_CONSUMER_TAG: Final = b"NSL-RANDOMNESS-OFFCHAIN-CONSUMER-V2"
SEED_BYTES: Final = 32
OUTPUT_BYTES: Final = 32
PROOF_BYTES: Final = 96
SIGNATURE_BYTES: Final = 64
HASH160_BYTES: Final = 20
#: the network magic of off-chain answers (no Neo network uses 0)
OFFCHAIN_MAGIC: Final = 0
#: the contract of off-chain answers (no contract has the zero script hash)
OFFCHAIN_CONTRACT: Final = bytes(HASH160_BYTES)


@dataclass(frozen=True, slots=True)
class RandomnessFacts:
    """What one answer is bound to: the network, the contract, the request and its consumer and seed."""

    magic: int
    contract: bytes
    request_id: int
    consumer: bytes
    seed: bytes

    def __post_init__(self) -> None:
        if isinstance(self.magic, bool) or not isinstance(self.magic, int) or not 0 <= self.magic < 2**32:
            raise InvalidInput("network magic must be between 0 and 2^32-1")
        _check_len("contract", self.contract, HASH160_BYTES)
        _check_len("consumer", self.consumer, HASH160_BYTES)
        _check_len("seed", self.seed, SEED_BYTES)
        encode_request_id(self.request_id)


def encode_request_id(request_id: int) -> bytes:
    """``u64le(requestId)``."""
    if isinstance(request_id, bool) or not isinstance(request_id, int) or not 0 <= request_id < 2**63:
        raise InvalidInput("request id out of range")
    return request_id.to_bytes(8, "little")


def _check_len(name: str, value: bytes, size: int) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise InvalidInput(f"{name} must be {size} bytes")


def _bound(facts: RandomnessFacts) -> bytes:
    return facts.magic.to_bytes(4, "little") + facts.contract + encode_request_id(facts.request_id)


def vrf_input(facts: RandomnessFacts) -> bytes:
    """The message the service's BLS key signs; its signature is the proof."""
    return VRF_TAG + _bound(facts) + facts.seed


def output_from_proof(proof: bytes) -> bytes:
    """``output = SHA-256(proof)`` (the contract refuses any other output)."""
    _check_len("proof", proof, PROOF_BYTES)
    return hashlib.sha256(proof).digest()


def fulfil_message(facts: RandomnessFacts, output: bytes, proof: bytes) -> bytes:
    """The exact bytes the service's secp256r1 key signs for ``fulfill``."""
    _check_len("output", output, OUTPUT_BYTES)
    _check_len("proof", proof, PROOF_BYTES)
    return FULFIL_TAG + _bound(facts) + facts.consumer + facts.seed + output + hashlib.sha256(proof).digest()


def offchain_consumer(tenant: str) -> bytes:
    """The 20-byte consumer of a tenant's off-chain answers: a hash of the tenant id."""
    encoded = tenant.encode()
    digest = hashlib.sha256(OFFCHAIN_CONSUMER_TAG + len(encoded).to_bytes(2, "big") + encoded).digest()
    return digest[:HASH160_BYTES]


def script_hash_bytes(text: str) -> bytes:
    """``0x...`` (big-endian text) to the 20 bytes NeoVM stores."""
    try:
        value = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("script hash must be hex") from None
    _check_len("script hash", value, HASH160_BYTES)
    return value[::-1]


@dataclass(frozen=True, slots=True)
class SignedRandomness:
    """One answer as the enclave's ``randomness_fulfil`` returns it."""

    output: bytes
    proof: bytes
    signature: bytes
