"""Where the sealing secret and attestation evidence come from: a simulation, or Gramine on SGX.

``SimulationPlatform`` keeps a random sealing secret and an Ed25519 "platform" key in 0600 files
under the data directory and signs reports with that key; every report it makes says
``"mode": "simulation"``. ``GramineSgxPlatform`` uses Gramine's ``/dev/attestation`` pseudo-files:
the MRENCLAVE-bound sealing key and DCAP quotes over 64 bytes of user report data.
"""

from __future__ import annotations

import hashlib
import os
import stat
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ed25519

from neo_service_layer.enclave.sgx_quote import QuoteFormatError, parse_quote
from neo_service_layer.enclave.wire.encoding import b64encode, canonical_json
from neo_service_layer.enclave.wire.keys import AttestationFailed

SIMULATION = "simulation"
GRAMINE_SGX = "gramine-sgx"
REPORT_DATA_BYTES = 64


class PlatformError(Exception):
    """The platform cannot be used as configured (missing files, unsafe permissions)."""


class Platform(Protocol):
    name: str

    def sealing_secret(self) -> bytes: ...

    def evidence(self, report_data: bytes) -> dict[str, Any]:
        """Platform evidence over exactly 64 bytes of report data."""
        ...


def simulation_measurement() -> str:
    """The simulated MRENCLAVE: SHA-256 over the enclave package's Python sources (hex)."""
    digest = hashlib.sha256()
    package = resources.files("neo_service_layer.enclave")
    for entry in sorted(package.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py") and entry.is_file():
            content = entry.read_bytes()
            digest.update(entry.name.encode() + b"\0" + len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def simulation_signed_body(measurement: str, report_data: bytes) -> bytes:
    """What the simulated platform key signs."""
    return canonical_json({"mode": SIMULATION, "measurement": measurement, "report_data": report_data.hex()})


class SimulationPlatform:
    """Software stand-in for a TEE: its secrets are only as safe as the files under ``data_dir``."""

    name = SIMULATION

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / "enclave"
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._secret = _secret_file(self.directory / "sealing.secret")
        self._platform_key = ed25519.Ed25519PrivateKey.from_private_bytes(
            _secret_file(self.directory / "platform.key")
        )
        self.measurement = simulation_measurement()

    @property
    def platform_public_key(self) -> bytes:
        """Give this to verifiers that should trust this simulated platform."""
        return self._platform_key.public_key().public_bytes_raw()

    def sealing_secret(self) -> bytes:
        return self._secret

    def evidence(self, report_data: bytes) -> dict[str, Any]:
        signature = self._platform_key.sign(simulation_signed_body(self.measurement, report_data))
        return {
            "measurement": self.measurement,
            "platform_public_key": self.platform_public_key.hex(),
            "signature": signature.hex(),
        }


class GramineSgxPlatform:
    """Gramine's attestation pseudo-filesystem (``/dev/attestation``, or a directory mimicking it)."""

    name = GRAMINE_SGX

    def __init__(self, attestation_dir: Path) -> None:
        self.directory = attestation_dir
        kind_file = attestation_dir / "attestation_type"
        if not attestation_dir.is_dir():
            raise PlatformError(f"{attestation_dir} does not exist: not running under Gramine SGX")
        if kind_file.exists() and kind_file.read_text().strip() != "dcap":
            raise PlatformError("Gramine attestation type is not dcap (set sgx.remote_attestation)")

    def sealing_secret(self) -> bytes:
        path = self.directory / "keys" / "_sgx_mrenclave"
        try:
            secret = path.read_bytes()
        except OSError as exc:
            raise PlatformError(f"cannot read the MRENCLAVE sealing key: {exc.strerror}") from None
        if len(secret) < 16:
            raise PlatformError("MRENCLAVE sealing key is shorter than 16 bytes")
        return secret

    def evidence(self, report_data: bytes) -> dict[str, Any]:
        if len(report_data) != REPORT_DATA_BYTES:
            raise AttestationFailed("report data must be 64 bytes")
        try:
            (self.directory / "user_report_data").write_bytes(report_data)
            quote = (self.directory / "quote").read_bytes()
        except OSError:
            raise AttestationFailed("the platform did not produce a quote") from None
        try:
            parsed = parse_quote(quote)
        except QuoteFormatError:
            raise AttestationFailed("the platform produced a malformed quote") from None
        if parsed.report_data != report_data:
            raise AttestationFailed("the quote does not carry the requested report data")
        return {"quote": b64encode(quote)}


def _secret_file(path: Path) -> bytes:
    """Read a 32-byte secret file, creating it (mode 0600, exclusive) on first use."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            raise PlatformError(f"{path} is readable by group or others; chmod 600 it") from None
        secret = path.read_bytes()
        if len(secret) != 32:
            raise PlatformError(f"{path} does not hold a 32-byte secret") from None
        return secret
    secret = os.urandom(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    return secret
