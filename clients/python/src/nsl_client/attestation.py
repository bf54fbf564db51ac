"""Checking an enclave attestation report with no server call, as the enclave's ``verify_report``
(``enclave/attestation.py``) does: the nonce, the report data binding the keys and the nonce, the
platform evidence (a simulated Ed25519 signature, or an SGX DCAP quote up to Intel's root) and the
measurement against the caller's allow-list.

Report data: ``SHA-256(canonical {"keys": [...sorted by key_id, version], "nonce": hex}) || 32 zero
bytes``; canonical JSON is sorted keys, no spaces, ASCII.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from nsl_client.sgx_quote import (
    INTEL_SGX_ROOT_CA_PEM,
    QuoteFormatError,
    attestation_key_bound,
    parse_quote,
    pck_chain_problems,
    quote_signature_valid,
)

REPORT_FORMAT = "nsl-attestation/1"
SIMULATION = "simulation"
GRAMINE_SGX = "gramine-sgx"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def report_data(keys: Sequence[Mapping[str, Any]], nonce: bytes) -> bytes:
    """The 64 bytes of report data that bind ``keys`` and ``nonce``."""
    ordered = sorted(keys, key=lambda k: (str(k.get("key_id")), str(k.get("version"))))
    return hashlib.sha256(canonical_json({"keys": ordered, "nonce": nonce.hex()})).digest() + bytes(32)


@dataclass
class AttestationCheck:
    """``ok`` only when every check passed; ``problems`` says which did not."""

    ok: bool = False
    mode: str | None = None
    measurement: str | None = None
    keys: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verify_attestation_report(
    report: Mapping[str, Any],
    *,
    nonce: bytes,
    allowed_measurements: Collection[str],
    accept_simulation: bool = False,
    simulation_platform_keys: Collection[bytes] = (),
    expected_public_keys: Collection[bytes] = (),
    sgx_root_ca_pem: bytes = INTEL_SGX_ROOT_CA_PEM,
    allow_debug_enclave: bool = False,
    now: datetime | None = None,
) -> AttestationCheck:
    """Check a report from ``GET /api/v1/attestation`` against your nonce and trusted measurements."""
    check = AttestationCheck()
    try:
        if report["format"] != REPORT_FORMAT or "purpose" in report:
            raise ValueError("not an attestation report")
        keys, evidence = report["keys"], report["evidence"]
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise TypeError("keys must be objects")
        if not isinstance(evidence, Mapping):
            raise TypeError("evidence must be an object")
        mode, data, report_nonce = str(report["mode"]), bytes.fromhex(report["report_data"]), report["nonce"]
        nonce_matches = hmac.compare_digest(bytes.fromhex(report_nonce), nonce)
    except (KeyError, TypeError, ValueError):
        check.problems.append("report is malformed")
        return check
    check.mode, check.keys = mode, keys
    if not nonce_matches:
        check.problems.append("nonce does not match")
    if not hmac.compare_digest(report_data(keys, nonce), data):
        check.problems.append("report data does not bind these keys and this nonce")
    bound = {k.get("public_key") for k in keys}
    for missing in sorted(pk.hex() for pk in expected_public_keys if pk.hex() not in bound):
        check.problems.append(f"public key {missing} is not bound in the report")
    if mode == SIMULATION:
        _simulation(check, evidence, data, accept_simulation, simulation_platform_keys)
    elif mode == GRAMINE_SGX:
        _sgx(check, evidence, data, sgx_root_ca_pem, allow_debug_enclave, now)
    else:
        check.problems.append(f"unknown platform mode {mode!r}")
    if check.measurement is None or check.measurement not in {m.lower() for m in allowed_measurements}:
        check.problems.append("measurement is not in the allow-list")
    check.ok = not check.problems
    return check


def _simulation(
    check: AttestationCheck,
    evidence: Mapping[str, Any],
    data: bytes,
    accept: bool,
    trusted: Collection[bytes],
) -> None:
    check.notes.append("simulation mode: keys are software keys, not protected by a TEE")
    if not accept:
        check.problems.append("simulation reports are not accepted")
    try:
        measurement = str(evidence["measurement"])
        platform_key = bytes.fromhex(evidence["platform_public_key"])
        signature = bytes.fromhex(evidence["signature"])
        public = ed25519.Ed25519PublicKey.from_public_bytes(platform_key)
    except (KeyError, TypeError, ValueError):
        check.problems.append("simulation evidence is malformed")
        return
    if platform_key not in set(trusted):
        check.problems.append("simulated platform key is not a trusted one")
    body = canonical_json({"mode": SIMULATION, "measurement": measurement, "report_data": data.hex()})
    try:
        public.verify(signature, body)
    except InvalidSignature:
        check.problems.append("simulated platform signature is invalid")
        return
    check.measurement = measurement


def _sgx(
    check: AttestationCheck,
    evidence: Mapping[str, Any],
    data: bytes,
    root_pem: bytes,
    allow_debug: bool,
    now: datetime | None,
) -> None:
    check.notes.append("TCB status, QE identity and revocation (Intel PCS collateral) were not checked")
    try:
        quote = parse_quote(base64.b64decode(str(evidence["quote"]), validate=True))
    except (KeyError, ValueError, QuoteFormatError):
        check.problems.append("SGX quote is malformed")
        return
    if not quote_signature_valid(quote):
        check.problems.append("quote signature is invalid")
        return
    if not attestation_key_bound(quote):
        check.problems.append("attestation key is not bound by the Quoting Enclave report")
    check.problems.extend(pck_chain_problems(quote, root_pem, now))
    if quote.is_debug and not allow_debug:
        check.problems.append("enclave runs in debug mode")
    if not hmac.compare_digest(quote.report_data, data):
        check.problems.append("quote report data differs from the report's")
    check.measurement = quote.mr_enclave.hex()
