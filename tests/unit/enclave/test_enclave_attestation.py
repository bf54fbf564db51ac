"""Attestation reports: simulation and Gramine (mimic directory) platforms, and the verifier's verdicts."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from enclave_fakes import FakeQuotingEnclave, make_attestation_dir

from neo_service_layer.enclave.attestation import bound_key, build_report, compute_report_data, verify_report
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import GramineSgxPlatform, PlatformError, SimulationPlatform
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.sgx_quote import INTEL_SGX_ROOT_CA_PEM
from neo_service_layer.enclave.wire.keys import AttestationFailed, KeyInfo, KeyKind, KeyPolicy, Purpose

NONCE = os.urandom(32)


@pytest.fixture
def key(keystore: KeyStore) -> KeyInfo:
    return keystore.create(KeyKind.SECP256R1, KeyPolicy.of("acme", [Purpose.ORACLE])).info


@pytest.fixture
def simulation(tmp_path: Path) -> SimulationPlatform:
    return SimulationPlatform(tmp_path)


def _sim_verify(platform: SimulationPlatform, report: dict[str, Any], **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "nonce": NONCE,
        "allowed_measurements": [platform.measurement],
        "accept_simulation": True,
        "simulation_platform_keys": [platform.platform_public_key],
    }
    args.update(overrides)
    return verify_report(report, **args)


def test_simulation_files_are_private_and_stable(tmp_path: Path) -> None:
    first = SimulationPlatform(tmp_path)
    for name in ("sealing.secret", "platform.key"):
        assert oct((tmp_path / "enclave" / name).stat().st_mode & 0o777) == "0o600"
    again = SimulationPlatform(tmp_path)
    assert again.sealing_secret() == first.sealing_secret()
    assert again.platform_public_key == first.platform_public_key


def test_simulation_refuses_world_readable_secret(tmp_path: Path) -> None:
    SimulationPlatform(tmp_path)
    (tmp_path / "enclave" / "sealing.secret").chmod(0o644)
    with pytest.raises(PlatformError, match="chmod 600"):
        SimulationPlatform(tmp_path)


def test_simulation_report_verifies(simulation: SimulationPlatform, key: KeyInfo) -> None:
    report = build_report(simulation, [key], NONCE)
    assert report["mode"] == "simulation"
    verdict = _sim_verify(simulation, report, expected_public_keys=[key.public_key])
    assert verdict.ok, verdict.problems
    assert verdict.keys == [bound_key(key)]
    assert any("simulation" in note for note in verdict.notes)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"accept_simulation": False}, "simulation reports are not accepted"),
        ({"nonce": os.urandom(32)}, "nonce does not match"),
        ({"allowed_measurements": ["00" * 32]}, "measurement is not in the allow-list"),
        ({"simulation_platform_keys": []}, "simulated platform key is not a trusted one"),
        ({"expected_public_keys": [b"\x02" * 33]}, "is not bound in the report"),
    ],
)
def test_simulation_rejections(
    simulation: SimulationPlatform, key: KeyInfo, overrides: dict[str, Any], problem: str
) -> None:
    verdict = _sim_verify(simulation, build_report(simulation, [key], NONCE), **overrides)
    assert not verdict.ok
    assert any(problem in p for p in verdict.problems), verdict.problems


def _swap_key(report: dict[str, Any]) -> None:
    report["keys"][0]["public_key"] = "03" + "11" * 32


def _swap_data(report: dict[str, Any]) -> None:
    report["report_data"] = compute_report_data([], NONCE).hex()


def _swap_signature(report: dict[str, Any]) -> None:
    signature = bytearray.fromhex(report["evidence"]["signature"])
    signature[5] ^= 1
    report["evidence"]["signature"] = signature.hex()


def _swap_measurement(report: dict[str, Any]) -> None:
    report["evidence"]["measurement"] = "ab" * 32


@pytest.mark.parametrize("tamper", [_swap_key, _swap_data, _swap_signature, _swap_measurement])
def test_tampered_simulation_report_is_rejected(
    simulation: SimulationPlatform, key: KeyInfo, tamper: Any
) -> None:
    report = copy.deepcopy(build_report(simulation, [key], NONCE))
    tamper(report)
    verdict = _sim_verify(simulation, report, allowed_measurements=[simulation.measurement, "ab" * 32])
    assert not verdict.ok


@pytest.mark.parametrize("report", [{}, {"format": "x"}, {"format": "nsl-attestation/1", "keys": "no"}])
def test_malformed_report(report: dict[str, Any]) -> None:
    verdict = verify_report(report, nonce=NONCE, allowed_measurements=[])
    assert not verdict.ok
    assert verdict.problems == ["report is malformed"]


def test_bad_nonce_length(simulation: SimulationPlatform) -> None:
    with pytest.raises(Exception, match="nonce"):
        build_report(simulation, [], b"short")


# Gramine ------------------------------------------------------------------------------------------


@pytest.fixture
def qe() -> FakeQuotingEnclave:
    return FakeQuotingEnclave()


def _gramine_report(tmp_path: Path, qe: FakeQuotingEnclave, key: KeyInfo, version: int = 3) -> dict[str, Any]:
    directory = make_attestation_dir(tmp_path / "attestation")
    expected = compute_report_data([bound_key(key)], NONCE)
    (directory / "quote").write_bytes(qe.quote(expected, version))
    report = build_report(GramineSgxPlatform(directory), [key], NONCE)
    assert (directory / "user_report_data").read_bytes() == expected
    return report


def _sgx_verify(report: dict[str, Any], qe: FakeQuotingEnclave, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "nonce": NONCE,
        "allowed_measurements": [qe.mr_enclave.hex()],
        "sgx_root_ca_pem": qe.root_pem,
    }
    args.update(overrides)
    return verify_report(report, **args)


@pytest.mark.parametrize("version", [3, 4])
def test_gramine_report_verifies(tmp_path: Path, qe: FakeQuotingEnclave, key: KeyInfo, version: int) -> None:
    report = _gramine_report(tmp_path, qe, key, version)
    assert report["mode"] == "gramine-sgx"
    verdict = _sgx_verify(report, qe, expected_public_keys=[key.public_key])
    assert verdict.ok, verdict.problems
    assert verdict.measurement == qe.mr_enclave.hex()
    assert verdict.pck_chain_verified
    assert not verdict.tcb_status_checked
    assert any("not checked" in note for note in verdict.notes)


def test_gramine_chain_to_intel_root_is_required(
    tmp_path: Path, qe: FakeQuotingEnclave, key: KeyInfo
) -> None:
    verdict = _sgx_verify(_gramine_report(tmp_path, qe, key), qe, sgx_root_ca_pem=INTEL_SGX_ROOT_CA_PEM)
    assert not verdict.ok
    assert not verdict.pck_chain_verified


def test_intel_root_fingerprint() -> None:
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    root = x509.load_pem_x509_certificate(INTEL_SGX_ROOT_CA_PEM)
    root.verify_directly_issued_by(root)
    assert "CN=Intel SGX Root CA" in root.subject.rfc4514_string()
    der = root.public_bytes(Encoding.DER)
    assert (
        hashlib.sha256(der).hexdigest() == "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
    )


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"nonce": os.urandom(32)}, "nonce does not match"),
        ({"allowed_measurements": ["00" * 32]}, "measurement is not in the allow-list"),
    ],
)
def test_gramine_rejections(
    tmp_path: Path, qe: FakeQuotingEnclave, key: KeyInfo, overrides: dict[str, Any], problem: str
) -> None:
    verdict = _sgx_verify(_gramine_report(tmp_path, qe, key), qe, **overrides)
    assert not verdict.ok
    assert any(problem in p for p in verdict.problems), verdict.problems


def test_gramine_tampered_quote_is_rejected(tmp_path: Path, qe: FakeQuotingEnclave, key: KeyInfo) -> None:
    import base64

    report = _gramine_report(tmp_path, qe, key)
    quote = bytearray(base64.b64decode(report["evidence"]["quote"]))
    quote[48 + 64] ^= 1  # one bit of MRENCLAVE
    report["evidence"]["quote"] = base64.b64encode(bytes(quote)).decode()
    verdict = _sgx_verify(report, qe, allowed_measurements=[bytes(quote[112:144]).hex()])
    assert not verdict.ok
    assert "quote signature is invalid" in verdict.problems


def test_gramine_debug_enclave_is_rejected(tmp_path: Path, key: KeyInfo) -> None:
    qe = FakeQuotingEnclave(debug=True)
    report = _gramine_report(tmp_path, qe, key)
    assert "enclave runs in debug mode" in _sgx_verify(report, qe).problems
    assert _sgx_verify(report, qe, allow_debug_enclave=True).ok


def test_gramine_quote_for_other_report_data_is_refused(tmp_path: Path, qe: FakeQuotingEnclave) -> None:
    directory = make_attestation_dir(tmp_path / "attestation")
    (directory / "quote").write_bytes(qe.quote(bytes(64)))
    with pytest.raises(AttestationFailed):
        build_report(GramineSgxPlatform(directory), [], NONCE)


def test_gramine_sealing_secret_and_checks(tmp_path: Path) -> None:
    directory = make_attestation_dir(tmp_path / "attestation", sealing_key=b"\x42" * 16)
    platform = GramineSgxPlatform(directory)
    assert platform.sealing_secret() == b"\x42" * 16
    Sealer(platform.sealing_secret())
    (directory / "attestation_type").write_text("epid")
    with pytest.raises(PlatformError, match="dcap"):
        GramineSgxPlatform(directory)
    with pytest.raises(PlatformError, match="not running under Gramine"):
        GramineSgxPlatform(tmp_path / "missing")
