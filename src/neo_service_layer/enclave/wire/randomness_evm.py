"""The randomness service's signed byte formats for EVM chains (Neo X), built inside the enclave.

Standard library only. The enclave's ``randomness_evm_fulfil`` operation (``enclave/randomness_evm.py``)
builds these bytes itself from the request's chain facts; the host supplies no message, randomness or
proof. The EVM contract (``contracts/evm/RandomnessService.sol``) rebuilds the fulfil preimage from
``block.chainid``, its own address and the request's stored consumer and seed, and accepts the answer
only if ``ecrecover(keccak256(preimage))`` is its configured signer.

Encodings (V1; ``u256`` is 32 bytes big-endian, as ``abi.encodePacked`` writes a ``uint256``; addresses
are their 20 bytes)::

    VRF input   = "NSL-RANDOMNESS-EVM-VRF-V1" || u256(chainId) || contract || u256(requestId) || seed
    proof       = BLS12-381 signature over the VRF input (96-byte G2; the randomness service's BLS key)
    randomness  = SHA-256(proof)
    preimage    = "NSL-RANDOMNESS-EVM-V1" || u256(chainId) || contract || u256(requestId) || consumer
                  || seed || randomness
    signature   = secp256k1 over keccak256(preimage): 65 bytes r || s || v, v in {27, 28}, low s

The BLS signature is unique for its input, so asking the enclave again for the same request gives the
same randomness: a host cannot grind for an answer it likes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from neo_service_layer.enclave.wire.errors import InvalidInput

FULFIL_TAG: Final = b"NSL-RANDOMNESS-EVM-V1"
VRF_TAG: Final = b"NSL-RANDOMNESS-EVM-VRF-V1"
ADDRESS_BYTES: Final = 20
SEED_BYTES: Final = 32
RANDOMNESS_BYTES: Final = 32
PROOF_BYTES: Final = 96
SIGNATURE_BYTES: Final = 65
_U256_LIMIT: Final = 2**256


def _u256(name: str, value: int, *, minimum: int = 0) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < _U256_LIMIT:
        raise InvalidInput(f"{name} must be an integer between {minimum} and 2^256-1")
    return value.to_bytes(32, "big")


def _check_len(name: str, value: bytes, size: int) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise InvalidInput(f"{name} must be {size} bytes")


@dataclass(frozen=True, slots=True)
class EvmRandomnessFacts:
    """What one EVM answer is bound to: chain id, contract address, request id, consumer and seed."""

    chain_id: int
    contract: bytes
    request_id: int
    consumer: bytes
    seed: bytes

    def __post_init__(self) -> None:
        _u256("chain id", self.chain_id, minimum=1)
        _u256("request id", self.request_id)
        _check_len("contract", self.contract, ADDRESS_BYTES)
        _check_len("consumer", self.consumer, ADDRESS_BYTES)
        _check_len("seed", self.seed, SEED_BYTES)


def vrf_input(facts: EvmRandomnessFacts) -> bytes:
    """The message the randomness service's BLS key signs; its signature is the proof."""
    return (
        VRF_TAG
        + _u256("chain id", facts.chain_id, minimum=1)
        + facts.contract
        + _u256("request id", facts.request_id)
        + facts.seed
    )


def randomness_from_proof(proof: bytes) -> bytes:
    """``randomness = SHA-256(proof)``."""
    _check_len("proof", proof, PROOF_BYTES)
    return hashlib.sha256(proof).digest()


def fulfil_preimage(facts: EvmRandomnessFacts, randomness: bytes) -> bytes:
    """The bytes whose Keccak-256 the EVM randomness key signs and ``fulfill`` recomputes."""
    _check_len("randomness", randomness, RANDOMNESS_BYTES)
    return (
        FULFIL_TAG
        + _u256("chain id", facts.chain_id, minimum=1)
        + facts.contract
        + _u256("request id", facts.request_id)
        + facts.consumer
        + facts.seed
        + randomness
    )


def address_bytes(text: str) -> bytes:
    """``0x`` + 40 hex digits (any case; the EIP-55 checksum is not checked here) to 20 bytes."""
    if not isinstance(text, str) or not text.startswith(("0x", "0X")) or len(text) != 42:
        raise InvalidInput("an address is 0x followed by 40 hex digits")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise InvalidInput("an address is 0x followed by 40 hex digits") from None


@dataclass(frozen=True, slots=True)
class SignedEvmRandomness:
    """One answer as ``randomness_evm_fulfil`` returns it."""

    randomness: bytes
    proof: bytes
    signature: bytes
