"""Rules of Neo's native Oracle contract, for serving it as a designated oracle node.

Only the standard library is imported here (and the enclave's wire types). The protocol itself (the
stored request and its parser, response codes, the multisig threshold) is defined once in
``enclave.wire.native_oracle``, shared with the enclave that reads and answers requests; this module adds
what the host keeps about a request: what its event asked and what was answered.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    "enclave_calls",
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


def enclave_calls(
    requests: Sequence[tuple[int, str]], urls_per_call: int, ids_per_call: int
) -> list[list[int]]:
    """Claimed (request id, URL) pairs split into enclave calls, oldest first: at most ``urls_per_call``
    distinct URLs and ``ids_per_call`` ids a call.

    A call answers when its slowest fetch is done, so few URLs a call lets the answers of fast URLs be
    written while slow ones still load, and bounds what one call fetches at once. The requests of one URL
    stay in one call (the enclave fetches each distinct URL of a call once) unless they are more than
    ``ids_per_call``.
    """
    by_url: dict[str, list[int]] = {}
    for request_id, url in requests:
        by_url.setdefault(url, []).append(request_id)
    calls: list[list[int]] = []
    current: list[int] = []
    urls = 0
    for ids in by_url.values():
        for start in range(0, len(ids), ids_per_call):
            chunk = ids[start : start + ids_per_call]
            if current and (urls + 1 > urls_per_call or len(current) + len(chunk) > ids_per_call):
                calls.append(current)
                current, urls = [], 0
            current.extend(chunk)
            urls += 1
    if current:
        calls.append(current)
    return calls
