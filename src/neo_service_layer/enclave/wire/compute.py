"""Compute rules shared by the enclave, the API and the on-chain contract (``compute_service.py`` in the
compute service's ``contracts/``).

Only the standard library is imported here.

On-chain answer, V1 (mirrored exactly by the contract; see ``docs/compute.md``)::

    "NSL-COMPUTE-V1"                          14 bytes, ASCII
    u32le(magic)                               4 bytes: the Neo network magic
    contract                                  20 bytes: the compute contract's script hash (NeoVM order)
    u64le(requestId)                           8 bytes
    consumer                                  20 bytes: the requesting contract (NeoVM order)
    u32le(code)                                4 bytes (a ``ComputeCode`` value)
    u64le(timestamp)                           8 bytes, milliseconds since the Unix epoch (run ended)
    u32le(len(functionId)) || functionId       UTF-8 bytes of the function id as requested on chain
    functionHash                              32 bytes: SHA-256 of the artefact that ran (zeros if none)
    u32le(len(args))   || args                 the request's argument bytes as stored on chain
    u32le(len(result)) || result               the result bytes ("" unless code is SUCCESS)

Off-chain receipt, V1 (``POST /api/v1/compute/functions/{id}/runs``, ``nsl compute verify``)::

    "NSL-COMPUTE-RECEIPT-V1"                  22 bytes, ASCII
    u32le(len(tenant)) || tenant               UTF-8
    u32le(len(functionId)) || functionId       UTF-8
    functionHash                              32 bytes
    sha256(input)                             32 bytes
    u32le(code)                                4 bytes
    u64le(timestamp)                           8 bytes, milliseconds
    sha256(result)                            32 bytes

Both are signed by the enclave's compute key (secp256r1, ECDSA over SHA-256, 64-byte ``r || s``), only
inside the ``compute_run`` operation, which builds the message from what it ran itself: raw signing
refuses any message starting with ``MESSAGE_PREFIX`` for a compute key.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.randomness import HASH160_BYTES, encode_request_id

MESSAGE_TAG: Final = b"NSL-COMPUTE-V1"
RECEIPT_TAG: Final = b"NSL-COMPUTE-RECEIPT-V1"
#: every compute message tag starts so; raw signing refuses such messages for compute keys
MESSAGE_PREFIX: Final = b"NSL-COMPUTE-"

HASH_BYTES: Final = 32
NO_FUNCTION: Final = bytes(HASH_BYTES)
#: limits of an on-chain request (bytes), checked by the contract too
MAX_FUNCTION_ID_BYTES: Final = 64
#: a Neo notification is at most 1024 bytes and ``ComputeRequested`` carries the args
MAX_ARGS_BYTES: Final = 896
MAX_USER_DATA: Final = 512
#: the largest result the contract accepts: a transaction script is at most 65,535 bytes, and
#: ``fulfill``'s other arguments and the call take the rest
MAX_RESULT_BYTES: Final = 65280

_U32_MAX = 2**32 - 1
_U64_MAX = 2**64 - 1


class ComputeCode(IntEnum):
    """Why a run ended; only ``SUCCESS`` carries a result on chain."""

    SUCCESS = 0
    #: the function returned an error of its own (its message is the detail)
    FUNCTION_ERROR = 1
    #: the module trapped (unreachable, out-of-bounds access, stack overflow...)
    TRAP = 2
    FUEL_EXHAUSTED = 3
    MEMORY_LIMIT = 4
    TIMEOUT = 5
    #: the function failed after a fetch the guard or a limit refused
    FETCH_REFUSED = 6
    RESULT_TOO_LARGE = 7
    #: a secret the function asked for is not the tenant's, not supplied or not readable
    SECRET_UNAVAILABLE = 8
    #: the function does not exist, is disabled or may not be called on chain
    NOT_FOUND = 9
    #: the artefact is not a module or component the sandbox runs (bad bytes, unknown imports)
    INVALID_MODULE = 10
    #: the result contains a secret value
    FORBIDDEN = 11
    #: the request's arguments are not acceptable input (not UTF-8, too large)
    BAD_INPUT = 12


@dataclass(frozen=True, slots=True)
class ComputeFacts:
    """What an on-chain answer is bound to: network, contract, request, consumer, function id, args."""

    magic: int
    contract: bytes
    request_id: int
    consumer: bytes
    function_id: str
    args: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.magic <= _U32_MAX:
            raise InvalidInput("magic out of range")
        if len(self.contract) != HASH160_BYTES or len(self.consumer) != HASH160_BYTES:
            raise InvalidInput("contract and consumer must be 20-byte script hashes")
        if not 0 <= self.request_id <= _U64_MAX:
            raise InvalidInput("request id out of range")
        if len(self.function_id.encode()) > MAX_FUNCTION_ID_BYTES:
            raise InvalidInput(f"function id longer than {MAX_FUNCTION_ID_BYTES} bytes")
        if len(self.args) > MAX_ARGS_BYTES:
            raise InvalidInput(f"args longer than {MAX_ARGS_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What an off-chain receipt is bound to."""

    tenant: str
    function_id: str
    function_hash: bytes
    input_hash: bytes
    code: int
    timestamp_ms: int
    result_hash: bytes


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _prefixed(name: str, value: bytes) -> bytes:
    if len(value) > _U32_MAX:
        raise InvalidInput(f"{name} is too long")
    return _u32(len(value)) + value


def _check_common(code: int, timestamp_ms: int, function_hash: bytes) -> None:
    if not 0 <= code <= _U32_MAX:
        raise InvalidInput("code out of range")
    if not 0 <= timestamp_ms <= _U64_MAX:
        raise InvalidInput("timestamp out of range")
    if len(function_hash) != HASH_BYTES:
        raise InvalidInput("function hash must be 32 bytes")


def answer_message(
    facts: ComputeFacts, code: int, timestamp_ms: int, function_hash: bytes, result: bytes
) -> bytes:
    """The exact bytes the compute key signs for an on-chain answer and ``fulfill`` verifies."""
    _check_common(code, timestamp_ms, function_hash)
    return b"".join(
        (
            MESSAGE_TAG,
            _u32(facts.magic),
            facts.contract,
            encode_request_id(facts.request_id),
            facts.consumer,
            _u32(code),
            struct.pack("<Q", timestamp_ms),
            _prefixed("functionId", facts.function_id.encode()),
            function_hash,
            _prefixed("args", facts.args),
            _prefixed("result", result),
        )
    )


def receipt_message(receipt: ReceiptFacts) -> bytes:
    """The exact bytes the compute key signs for an off-chain run (and a verifier rebuilds)."""
    _check_common(receipt.code, receipt.timestamp_ms, receipt.function_hash)
    if len(receipt.input_hash) != HASH_BYTES or len(receipt.result_hash) != HASH_BYTES:
        raise InvalidInput("input and result hashes must be 32 bytes")
    return b"".join(
        (
            RECEIPT_TAG,
            _prefixed("tenant", receipt.tenant.encode()),
            _prefixed("functionId", receipt.function_id.encode()),
            receipt.function_hash,
            receipt.input_hash,
            _u32(receipt.code),
            struct.pack("<Q", receipt.timestamp_ms),
            receipt.result_hash,
        )
    )


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(frozen=True, slots=True)
class ComputeRun:
    """What ``compute_run`` answers: the outcome, what the run used, and the signature over the receipt
    (off chain) or the answer (on chain)."""

    code: int
    result: bytes
    detail: str
    timestamp_ms: int
    function_hash: bytes
    fuel_used: int
    wall_ms: int
    fetches: int
    log: str
    limits: dict[str, int]
    signature: bytes
    key_id: str
    key_version: int
    public_key: bytes

    @property
    def outcome(self) -> str:
        """The code's name in lower case (``success``, ``fuel_exhausted``...), or ``unknown``."""
        try:
            return ComputeCode(self.code).name.lower()
        except ValueError:
            return "unknown"
