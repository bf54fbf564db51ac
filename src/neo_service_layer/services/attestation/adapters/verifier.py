"""``AttestationVerifier`` over ``enclave.attestation.verify_report``, with the installation's trust settings.

Simulation reports are accepted only with ``NSL_ATTEST_ACCEPT_SIMULATION=true`` and a trusted simulated
platform key: the keys in ``NSL_ATTEST_SIMULATION_PLATFORM_KEYS`` and, outside production, the key the
local enclave wrote to ``<data_dir>/enclave/platform.pub`` (with the local simulated measurement added
to the allowed measurements). In production nothing local is trusted implicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo_service_layer.enclave.attestation import verify_report
from neo_service_layer.enclave.platforms import simulation_measurement
from neo_service_layer.kernel.config import Settings
from neo_service_layer.services.attestation.ports import AttestationVerdict


class ReportVerifier:
    """Implements ``ports.AttestationVerifier``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _trust(self) -> tuple[list[str], list[bytes]]:
        settings = self._settings
        measurements = list(settings.attest_allowed_measurements)
        keys = [bytes.fromhex(k) for k in settings.attest_simulation_platform_keys]
        local = settings.data_dir / "enclave" / "platform.pub"
        if settings.attest_accept_simulation and not settings.is_production and local.exists():
            keys.append(bytes.fromhex(local.read_text().strip()))
            measurements.append(simulation_measurement())
        return measurements, keys

    def verify(
        self, report: dict[str, Any], nonce: bytes, expected_public_keys: Sequence[bytes]
    ) -> AttestationVerdict:
        measurements, keys = self._trust()
        verdict = verify_report(
            report,
            nonce=nonce,
            allowed_measurements=measurements,
            accept_simulation=self._settings.attest_accept_simulation,
            simulation_platform_keys=keys,
            expected_public_keys=expected_public_keys,
        )
        return AttestationVerdict(
            ok=verdict.ok,
            mode=verdict.mode,
            measurement=verdict.measurement,
            keys=verdict.keys,
            problems=verdict.problems,
            notes=verdict.notes,
        )
