"""Attestation reports: made inside the enclave, checked by anyone with ``verify_report``.

A report binds a list of key public keys and the caller's nonce into the platform's 64 bytes of
report data: ``SHA-256(canonical {"keys": [...], "nonce": hex}) ‖ 32 zero bytes``. The platform
evidence (a simulated signature, or an SGX DCAP quote) covers those bytes and the code measurement.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from neo_service_layer.enclave.platforms import (
    GRAMINE_SGX,
    SIMULATION,
    Platform,
    simulation_signed_body,
)
from neo_service_layer.enclave.sgx_quote import (
    INTEL_SGX_ROOT_CA_PEM,
    QuoteFormatError,
    attestation_key_bound,
    parse_quote,
    pck_chain_problems,
    quote_signature_valid,
)
from neo_service_layer.enclave.wire.encoding import b64decode, canonical_json
from neo_service_layer.enclave.wire.keys import InvalidKeyRequest, KeyInfo

REPORT_FORMAT = "nsl-attestation/1"
MIN_NONCE, MAX_NONCE = 8, 64
MAX_BOUND_KEYS = 64


def bound_key(info: KeyInfo) -> dict[str, Any]:
    return {
        "key_id": info.key_id,
        "version": info.version,
        "kind": info.kind.value,
        "public_key": info.public_key.hex(),
    }


def compute_report_data(keys: Sequence[Mapping[str, Any]], nonce: bytes, purpose: str | None = None) -> bytes:
    """64 bytes of report data; a ``purpose`` (set only by enclave-internal protocols such as key
    migration, never by ``attest``) changes the hashed document, so the reports cannot stand in for
    each other."""
    ordered = sorted(keys, key=lambda k: (str(k.get("key_id")), str(k.get("version"))))
    body: dict[str, Any] = {"keys": ordered, "nonce": nonce.hex()}
    if purpose is not None:
        body["purpose"] = purpose
    return hashlib.sha256(canonical_json(body)).digest() + bytes(32)


def build_report(
    platform: Platform, keys: Sequence[KeyInfo], nonce: bytes, purpose: str | None = None
) -> dict[str, Any]:
    """The report the enclave returns from ``attest`` (``purpose``: see ``compute_report_data``)."""
    if not MIN_NONCE <= len(nonce) <= MAX_NONCE:
        raise InvalidKeyRequest(f"nonce must be {MIN_NONCE}-{MAX_NONCE} bytes")
    if len(keys) > MAX_BOUND_KEYS:
        raise InvalidKeyRequest(f"at most {MAX_BOUND_KEYS} keys per report")
    bound = sorted((bound_key(k) for k in keys), key=lambda k: (k["key_id"], k["version"]))
    data = compute_report_data(bound, nonce, purpose)
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "mode": platform.name,
        "nonce": nonce.hex(),
        "keys": bound,
        "report_data": data.hex(),
        "evidence": platform.evidence(data),
    }
    if purpose is not None:
        report["purpose"] = purpose
    return report


@dataclass(slots=True)
class Verdict:
    """Outcome of ``verify_report``: ``ok`` only if every check made passed and none was skipped."""

    ok: bool = False
    mode: str | None = None
    measurement: str | None = None
    keys: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pck_chain_verified: bool = False
    tcb_status_checked: bool = False
    notes: list[str] = field(default_factory=list)


def verify_report(
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
    purpose: str | None = None,
) -> Verdict:
    """Check a report from ``attest`` against the caller's nonce, measurements and trusted keys.

    ``purpose``: the report must have been made for this enclave-internal purpose (``None``: by
    ``attest``); see ``compute_report_data``.
    """
    verdict = Verdict()
    try:
        mode, report_data, keys, evidence = _fields(report)
    except (KeyError, TypeError, ValueError):
        verdict.problems.append("report is malformed")
        return verdict
    verdict.mode, verdict.keys = mode, keys
    if not hmac.compare_digest(bytes.fromhex(report["nonce"]), nonce):
        verdict.problems.append("nonce does not match")
    if report.get("purpose") != purpose:
        verdict.problems.append(f"report was made for purpose {report.get('purpose')!r}, not {purpose!r}")
    if not hmac.compare_digest(compute_report_data(keys, nonce, purpose), report_data):
        verdict.problems.append("report data does not bind these keys and this nonce")
    bound = {k["public_key"] for k in keys}
    for missing in sorted(pk.hex() for pk in expected_public_keys if pk.hex() not in bound):
        verdict.problems.append(f"public key {missing} is not bound in the report")
    if mode == SIMULATION:
        _check_simulation(verdict, evidence, report_data, accept_simulation, simulation_platform_keys)
    elif mode == GRAMINE_SGX:
        _check_sgx(verdict, evidence, report_data, sgx_root_ca_pem, allow_debug_enclave, now)
    else:
        verdict.problems.append(f"unknown platform mode {mode!r}")
    if verdict.measurement is None or verdict.measurement not in {m.lower() for m in allowed_measurements}:
        verdict.problems.append("measurement is not in the allow-list")
    verdict.ok = not verdict.problems
    return verdict


def _fields(report: Mapping[str, Any]) -> tuple[str, bytes, list[dict[str, Any]], Mapping[str, Any]]:
    if report["format"] != REPORT_FORMAT:
        raise ValueError("unknown report format")
    keys = report["keys"]
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise TypeError("keys must be a list of objects")
    evidence = report["evidence"]
    if not isinstance(evidence, Mapping):
        raise TypeError("evidence must be an object")
    bytes.fromhex(report["nonce"])
    return str(report["mode"]), bytes.fromhex(report["report_data"]), keys, evidence


def _check_simulation(
    verdict: Verdict,
    evidence: Mapping[str, Any],
    report_data: bytes,
    accept_simulation: bool,
    trusted_keys: Collection[bytes],
) -> None:
    verdict.notes.append("simulation mode: keys are software keys, not protected by a TEE")
    if not accept_simulation:
        verdict.problems.append("simulation reports are not accepted")
    try:
        measurement = str(evidence["measurement"])
        platform_key = bytes.fromhex(evidence["platform_public_key"])
        signature = bytes.fromhex(evidence["signature"])
        public = ed25519.Ed25519PublicKey.from_public_bytes(platform_key)
    except (KeyError, TypeError, ValueError):
        verdict.problems.append("simulation evidence is malformed")
        return
    if platform_key not in set(trusted_keys):
        verdict.problems.append("simulated platform key is not a trusted one")
    try:
        public.verify(signature, simulation_signed_body(measurement, report_data))
    except InvalidSignature:
        verdict.problems.append("simulated platform signature is invalid")
        return
    verdict.measurement = measurement


def _check_sgx(
    verdict: Verdict,
    evidence: Mapping[str, Any],
    report_data: bytes,
    root_pem: bytes,
    allow_debug: bool,
    now: datetime | None,
) -> None:
    verdict.notes.append("TCB status, QE identity and revocation (Intel PCS collateral) were not checked")
    try:
        quote = parse_quote(b64decode(str(evidence["quote"])))
    except (KeyError, ValueError, QuoteFormatError):
        verdict.problems.append("SGX quote is malformed")
        return
    if not quote_signature_valid(quote):
        verdict.problems.append("quote signature is invalid")
        return
    if not attestation_key_bound(quote):
        verdict.problems.append("attestation key is not bound by the Quoting Enclave report")
    chain_problems = pck_chain_problems(quote, root_pem, now)
    verdict.problems.extend(chain_problems)
    verdict.pck_chain_verified = not chain_problems
    if quote.is_debug and not allow_debug:
        verdict.problems.append("enclave runs in debug mode")
    if not hmac.compare_digest(quote.report_data, report_data):
        verdict.problems.append("quote report data differs from the report's")
    verdict.measurement = quote.mr_enclave.hex()
