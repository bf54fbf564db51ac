"""Attestation service: enclave reports binding a tenant's key public keys and a caller's nonce.

``report`` asks the enclave for a report over the caller's nonce and the current version of the chosen
keys (the tenant's usable keys, or an explicit list that must belong to the tenant). ``verify`` checks
a report with the installation's trust settings (allowed measurements, simulation acceptance and trusted
simulation platform keys) through the ``AttestationVerifier`` port.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import KeyId
from neo_service_layer.kernel.enclave_client.ports import AttestationReport, Enclave
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.audit import AuditRecord, Outcome, RequestMeta
from neo_service_layer.services.attestation.ports import AttestationVerdict, AttestationVerifier
from neo_service_layer.services.attestation.scopes import ATTESTATION_READ
from neo_service_layer.services.keys.api import KeyNotFound, KeyState, KeysUnitOfWorkFactory

MIN_NONCE, MAX_NONCE = 8, 64
MAX_KEYS = 64
ATTESTATION_REQUEST = "attestation.request"


class AttestationService:
    def __init__(
        self,
        *,
        uow: KeysUnitOfWorkFactory,
        enclave: Callable[[], Enclave],
        audit: AuditLog,
        verifier: AttestationVerifier,
    ) -> None:
        self._uow = uow
        self._enclave = enclave
        self._audit = audit
        self._verifier = verifier

    async def report(
        self,
        principal: Principal,
        nonce: bytes,
        key_ids: Sequence[KeyId] | None = None,
        *,
        meta: RequestMeta = RequestMeta(),
    ) -> AttestationReport:
        principal.require(ATTESTATION_READ)
        if not MIN_NONCE <= len(nonce) <= MAX_NONCE:
            raise InvalidInput(f"nonce: {MIN_NONCE}-{MAX_NONCE} bytes")
        tenant = principal.tenant_id
        async with self._uow(tenant) as uow:
            keys = {k.key_id: k for k in await uow.keys.for_tenant(tenant)}
        if key_ids is None:
            chosen = [k for k, key in keys.items() if key.state is not KeyState.DESTROYED][:MAX_KEYS]
        else:
            chosen = list(dict.fromkeys(key_ids))
            if len(chosen) > MAX_KEYS:
                raise InvalidInput(f"key_id: at most {MAX_KEYS} keys per report")
            for key_id in chosen:
                if key_id not in keys or keys[key_id].state is KeyState.DESTROYED:
                    raise KeyNotFound(f"no key {key_id!r} in this tenant")
        report = await self._enclave().attest(nonce, chosen)
        await self._audit.record(
            AuditRecord(
                tenant_id=tenant,
                actor=principal.actor,
                action=ATTESTATION_REQUEST,
                outcome=Outcome.SUCCESS,
                target="enclave",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details={"keys": " ".join(chosen), "nonce": nonce.hex(), "mode": str(report.get("mode"))},
            )
        )
        return report

    def verify(
        self,
        principal: Principal,
        report: dict[str, Any],
        nonce: bytes,
        expected_public_keys: Sequence[bytes] = (),
    ) -> AttestationVerdict:
        principal.require(ATTESTATION_READ)
        return self._verifier.verify(report, nonce, expected_public_keys)


__all__ = ["AttestationService"]
