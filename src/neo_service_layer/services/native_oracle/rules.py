"""Rules of Neo's native Oracle contract, for serving it as a designated oracle node.

Only the standard library is imported here (and the enclave's wire types). The protocol itself (the
stored request and its parser, response codes, the multisig threshold) is defined once in
``enclave.wire.native_oracle``, shared with the enclave that reads and answers requests; this module adds
what the host keeps about a request: what its event asked and what was answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from neo_service_layer.enclave.wire.native_oracle import (
    MAX_FILTER_BYTES,
    MAX_REDIRECTS,
    MAX_RESULT_BYTES,
    MAX_URL_BYTES,
    MAX_USER_DATA_BYTES,
    ORACLE_CONTRACT,
    ORACLE_ROLE,
    POLICY_CONTRACT,
    REQUEST_PREFIX,
    ROLE_MANAGEMENT,
    SCHEMES,
    MalformedRequest,
    NativeRequest,
    NeoResponseCode,
    multisig_threshold,
    neo_code,
    parse_request,
    request_key,
)

__all__ = [
    "MAX_FILTER_BYTES",
    "MAX_REDIRECTS",
    "MAX_RESULT_BYTES",
    "MAX_URL_BYTES",
    "MAX_USER_DATA_BYTES",
    "ORACLE_CONTRACT",
    "ORACLE_ROLE",
    "POLICY_CONTRACT",
    "REQUEST_PREFIX",
    "ROLE_MANAGEMENT",
    "SCHEMES",
    "MalformedRequest",
    "NativeParams",
    "NativeRequest",
    "NativeResult",
    "NeoResponseCode",
    "multisig_threshold",
    "neo_code",
    "parse_request",
    "request_key",
]


@dataclass(frozen=True, slots=True)
class NativeParams:
    """What an ``OracleRequest`` event asked (kept for the record: answers use the stored request)."""

    url: str
    filter: str | None


@dataclass(frozen=True, slots=True)
class NativeResult:
    """What a response transaction answered: Neo's response code and the result."""

    code: NeoResponseCode
    result: bytes
