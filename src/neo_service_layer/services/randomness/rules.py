"""Randomness service rules shared with the on-chain contract (``contracts/randomness_service.py`` in this
service's folder).

Byte encodings (mirrored exactly by the contract; see ``contracts/README.md``):

- ``u64le(requestId)``: the request id as 8 bytes, little-endian, unsigned.
- VRF input: ``b"NSL-RANDOMNESS-VRF-V1" || u64le(requestId) || seed`` (seed: 32 bytes from the
  ``RandomnessRequested`` event). ``proof`` is the BLS12-381 signature over it (96-byte compressed G2,
  public key in G1) and ``output = SHA-256(proof)``: unique per key and request, so the service cannot
  choose the output.
- Fulfil message, signed with the service's secp256r1 key (CryptoLib hashes it with SHA-256; the
  signature is 64 bytes ``r || s``): ``b"NSL-RANDOMNESS-V1" || u64le(requestId) || seed || output ||
  SHA-256(proof)``.
- Words: ``word_i = int.from_bytes(SHA-256(output || bytes([i])), "little") mod 2**255``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from neo_service_layer.enclave.wire.errors import InvalidInput

FULFIL_TAG: Final = b"NSL-RANDOMNESS-V1"
VRF_TAG: Final = b"NSL-RANDOMNESS-VRF-V1"
MIN_WORDS: Final = 1
MAX_WORDS: Final = 100
MAX_USER_DATA: Final = 512
WORD_MODULUS: Final = 2**255
SEED_BYTES: Final = 32
OUTPUT_BYTES: Final = 32
PROOF_BYTES: Final = 96
SIGNATURE_BYTES: Final = 64


class RandomnessContractState(IntEnum):
    """State of a request in the randomness contract, as its ``getRequest`` returns first."""

    NONE = 0
    PENDING = 1
    FULFILLED = 2
    DELIVERED = 3
    CALLBACK_FAILED = 4


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


def encode_request_id(request_id: int) -> bytes:
    """``u64le(requestId)``."""
    if not 0 <= request_id < 2**63:
        raise InvalidInput("request id out of range")
    return request_id.to_bytes(8, "little")


def _check_len(name: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise InvalidInput(f"{name} must be {size} bytes, got {len(value)}")


def vrf_input(request_id: int, seed: bytes) -> bytes:
    """The message the service's BLS key signs; its signature is the proof."""
    _check_len("seed", seed, SEED_BYTES)
    return VRF_TAG + encode_request_id(request_id) + seed


def output_from_proof(proof: bytes) -> bytes:
    """``output = SHA-256(proof)`` (the contract refuses any other output)."""
    _check_len("proof", proof, PROOF_BYTES)
    return hashlib.sha256(proof).digest()


def fulfil_message(request_id: int, seed: bytes, output: bytes, proof: bytes) -> bytes:
    """The exact bytes the service's secp256r1 key signs for ``fulfill``."""
    _check_len("seed", seed, SEED_BYTES)
    _check_len("output", output, OUTPUT_BYTES)
    return FULFIL_TAG + encode_request_id(request_id) + seed + output + hashlib.sha256(proof).digest()


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
