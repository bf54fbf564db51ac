"""Ports of the attestation service: verifying an enclave's attestation report.

Adapter: ``adapters.verifier.ReportVerifier`` (``enclave.attestation.verify_report`` with the
installation's trust settings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AttestationVerdict:
    """Outcome of verifying an attestation report (see ``enclave.attestation.verify_report``)."""

    ok: bool
    mode: str | None
    measurement: str | None
    keys: Sequence[dict[str, object]]
    problems: Sequence[str]
    notes: Sequence[str]


class AttestationVerifier(Protocol):
    def verify(
        self, report: dict[str, object], nonce: bytes, expected_public_keys: Sequence[bytes]
    ) -> AttestationVerdict: ...
