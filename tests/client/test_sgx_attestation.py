"""The client's check of an SGX (Gramine DCAP) attestation report: a report built by the enclave's
own code over a quote from the test Quoting Enclave (``tests/unit/enclave/enclave_fakes.py``, its
own root CA) passes, and the same report fails under Intel's root, with another nonce or measurement,
or with one changed bit of the quote; the client and the enclave's ``verify_report`` agree on each."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from neo_service_layer.enclave.attestation import bound_key, build_report, compute_report_data, verify_report
from neo_service_layer.enclave.platforms import GramineSgxPlatform
from neo_service_layer.enclave.wire.keys import KeyInfo, KeyKind, KeyStatus
from nsl_client.attestation import verify_attestation_report
from nsl_client.sgx_quote import INTEL_SGX_ROOT_CA_PEM
from tests.unit.enclave.enclave_fakes import FakeQuotingEnclave, make_attestation_dir

NONCE = os.urandom(32)
KEY = KeyInfo("key_sgx", KeyKind.SECP256R1, 1, bytes.fromhex("02" + "ab" * 32), KeyStatus.ACTIVE, "acme")


@pytest.fixture(scope="module")
def qe() -> FakeQuotingEnclave:
    return FakeQuotingEnclave()


def _report(tmp_path: Path, qe: FakeQuotingEnclave, version: int) -> dict[str, Any]:
    directory = make_attestation_dir(tmp_path / "attestation")
    (directory / "quote").write_bytes(qe.quote(compute_report_data([bound_key(KEY)], NONCE), version))
    return build_report(GramineSgxPlatform(directory), [KEY], NONCE)


def _both(report: dict[str, Any], **options: Any) -> tuple[bool, bool]:
    client = verify_attestation_report(report, **options)
    server = verify_report(report, **options)
    assert client.problems == server.problems
    return client.ok, server.ok


@pytest.mark.parametrize("version", [3, 4])
def test_an_sgx_report_verifies_and_each_change_is_refused(
    tmp_path: Path, qe: FakeQuotingEnclave, version: int
) -> None:
    report = _report(tmp_path, qe, version)
    options: dict[str, Any] = {
        "nonce": NONCE,
        "allowed_measurements": [qe.mr_enclave.hex()],
        "sgx_root_ca_pem": qe.root_pem,
        "expected_public_keys": [KEY.public_key],
    }
    assert _both(report, **options) == (True, True)
    assert _both(report, **{**options, "sgx_root_ca_pem": INTEL_SGX_ROOT_CA_PEM}) == (False, False)
    assert _both(report, **{**options, "nonce": os.urandom(32)}) == (False, False)
    assert _both(report, **{**options, "allowed_measurements": ["00" * 32]}) == (False, False)
    quote = base64.b64decode(report["evidence"]["quote"])
    for position in (0, 48 + 64, 48 + 320, len(quote) // 2, len(quote) - 100):
        changed = bytearray(quote)
        changed[position] ^= 1
        tampered = {**report, "evidence": {"quote": base64.b64encode(bytes(changed)).decode()}}
        assert _both(tampered, **options) == (False, False), position
