"""Randomness service rules the host keeps: words, request limits, what a request asked and was answered.

The signed byte formats (VRF input, fulfil message, output) are built inside the enclave and live in
``enclave/wire/randomness.py`` (re-exported here for the host's verifiers and tests); the contract
(``contracts/randomness_service.py`` in this service's folder) mirrors them exactly, see
``contracts/README.md``.

- Words: ``word_i = int.from_bytes(SHA-256(output || bytes([i])), "little") mod 2**255``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.randomness import (
    FULFIL_TAG,
    HASH160_BYTES,
    OFFCHAIN_CONTRACT,
    OFFCHAIN_MAGIC,
    OUTPUT_BYTES,
    PROOF_BYTES,
    SEED_BYTES,
    SIGNATURE_BYTES,
    VRF_TAG,
    RandomnessFacts,
    SignedRandomness,
    encode_request_id,
    fulfil_message,
    offchain_consumer,
    output_from_proof,
    script_hash_bytes,
    vrf_input,
)

__all__ = [
    "FULFIL_TAG",
    "HASH160_BYTES",
    "MAX_USER_DATA",
    "MAX_WORDS",
    "MIN_WORDS",
    "OFFCHAIN_CONTRACT",
    "OFFCHAIN_MAGIC",
    "OUTPUT_BYTES",
    "PROOF_BYTES",
    "SEED_BYTES",
    "SIGNATURE_BYTES",
    "VRF_TAG",
    "WORD_MODULUS",
    "RandomnessContractState",
    "RandomnessFacts",
    "RandomnessParams",
    "RandomnessResult",
    "SignedRandomness",
    "check_request",
    "derive_words",
    "encode_request_id",
    "fulfil_message",
    "offchain_consumer",
    "output_from_proof",
    "script_hash_bytes",
    "vrf_input",
]

MIN_WORDS: Final = 1
MAX_WORDS: Final = 100
MAX_USER_DATA: Final = 512
WORD_MODULUS: Final = 2**255


class RandomnessContractState(IntEnum):
    """State of a request in the randomness contract, as its ``getRequest`` returns first."""

    NONE = 0
    PENDING = 1
    FULFILLED = 2
    DELIVERED = 3
    CALLBACK_FAILED = 4
    #: unanswered past the refund timeout: the fee went back to the consumer, never fulfilled
    REFUNDED = 5


@dataclass(frozen=True, slots=True)
class RandomnessParams:
    """What an on-chain request asked: how many words, and the seed of its ``RandomnessRequested`` event."""

    num_words: int
    seed: bytes


@dataclass(frozen=True, slots=True)
class RandomnessResult:
    """What a request is answered with: the VRF output and its proof."""

    output: bytes
    proof: bytes


def _check_len(name: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise InvalidInput(f"{name} must be {size} bytes, got {len(value)}")


def derive_words(output: bytes, num_words: int) -> list[int]:
    """The words the consumer's callback receives for ``output``."""
    _check_len("output", output, OUTPUT_BYTES)
    if not MIN_WORDS <= num_words <= MAX_WORDS:
        raise InvalidInput(f"numWords must be between {MIN_WORDS} and {MAX_WORDS}")
    return [
        int.from_bytes(hashlib.sha256(output + bytes([i])).digest(), "little") % WORD_MODULUS
        for i in range(num_words)
    ]


def check_request(num_words: int, user_data: bytes) -> None:
    """The contract's limits on a request, checked before anything is sent."""
    if not MIN_WORDS <= num_words <= MAX_WORDS:
        raise InvalidInput(f"numWords must be between {MIN_WORDS} and {MAX_WORDS}")
    if len(user_data) > MAX_USER_DATA:
        raise InvalidInput(f"userData must be at most {MAX_USER_DATA} bytes")
