"""Rules of the compute service: functions, their limits and runs. Standard library only.

A function is a tenant's named, immutable artefact (a WebAssembly component or core module) with the
limits it runs under and the names of the tenant's secrets it may read. Its version is the SHA-256 of
the artefact; uploading new code makes a new function.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from neo_service_layer.enclave.wire.compute import ComputeCode
from neo_service_layer.enclave.wire.errors import InvalidInput, NotFound
from neo_service_layer.enclave.wire.secret_labels import SECRET_NAME_PATTERN

FUNCTION_ID_PATTERN = "^fn_[0-9a-f]{24}$"
RUN_ID_PATTERN = "^run_[0-9a-f]{24}$"
NAME_PATTERN = "^[A-Za-z0-9 _.:@/-]{1,100}$"
MAX_GRANTED_SECRETS = 16
MAX_MODULE_BYTES = 64 * 1024 * 1024
MAX_INPUT_BYTES = 1024 * 1024
#: what a function's limits may name (the enclave checks each against the operator's maxima)
LIMIT_NAMES = (
    "fuel",
    "memory_bytes",
    "wall_ms",
    "fetches",
    "fetch_response_bytes",
    "fetch_timeout_ms",
    "result_bytes",
)


class ComputeContractState(IntEnum):
    """State of a request in the compute contract, as its ``getRequest`` returns first."""

    NONE = 0
    PENDING = 1
    FULFILLED = 2
    DELIVERED = 3
    CALLBACK_FAILED = 4
    #: unanswered past the refund timeout: the fee went back to the consumer, never fulfilled
    REFUNDED = 5


class Language(StrEnum):
    PYTHON = "python"
    JAVASCRIPT = "javascript"
    #: a WebAssembly component of the ``function`` world, or a core module of ABI ``nsl-core-1``
    WASM = "wasm"


class FunctionNotFound(NotFound):
    code = "function-not-found"


class BuildRefused(InvalidInput):
    """The source does not build, or the module is not one the sandbox runs (the message says why)."""

    code = "build-failed"


def input_text(value: object) -> str:
    """The JSON text a run's input is handed to the function as (and hashed as, in its receipt)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def new_function_id() -> str:
    return "fn_" + secrets.token_hex(12)


def new_run_id() -> str:
    return "run_" + secrets.token_hex(12)


def check_function_id(value: str) -> str:
    if not re.fullmatch(FUNCTION_ID_PATTERN, value):
        raise FunctionNotFound(f"no function {value[:40]!r}")
    return value


def check_secret_names(names: list[str]) -> tuple[str, ...]:
    if len(names) > MAX_GRANTED_SECRETS:
        raise InvalidInput(f"at most {MAX_GRANTED_SECRETS} secrets per function")
    for name in names:
        if not re.fullmatch(SECRET_NAME_PATTERN, name):
            raise InvalidInput(f"secret name {name[:64]!r} is not valid")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class ComputeKey:
    """The compute key: secp256r1, purpose ``compute``, owned by the platform."""

    key_id: str
    public_key: bytes


@dataclass(frozen=True, slots=True)
class ComputeFunction:
    """A tenant's function: what runs (``digest``), under which limits, with which secrets."""

    function_id: str
    tenant_id: str
    name: str
    language: Language
    digest: str
    size: int
    limits: dict[str, int]
    secrets: tuple[str, ...]
    on_chain: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One off-chain run and its signed receipt."""

    run_id: str
    tenant_id: str
    function_id: str
    digest: str
    input_sha256: str
    code: int
    detail: str
    result: bytes
    fuel_used: int
    wall_ms: int
    fetches: int
    timestamp_ms: int
    signature: bytes
    key_version: int
    created_at: datetime

    @property
    def outcome(self) -> str:
        return outcome_name(self.code)


def outcome_name(code: int) -> str:
    try:
        return ComputeCode(code).name.lower()
    except ValueError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class ComputeParams:
    """An on-chain request's function id and argument bytes."""

    function_id: str
    args: bytes


@dataclass(frozen=True, slots=True)
class ComputeResult:
    """The answer last written for an on-chain request."""

    code: int
    result: bytes
    timestamp_ms: int
    function_hash: bytes
    detail: str
