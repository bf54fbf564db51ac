"""Attestation service: enclave reports binding a tenant's key public keys and a caller's nonce.

``report`` asks the enclave for a report over the caller's nonce and the current version of the chosen
keys (the tenant's usable keys, or an explicit list that must belong to the tenant). ``verify`` checks
a report with the installation's trust settings (allowed measurements, simulation acceptance and trusted
simulation platform keys) through the ``AttestationVerifier`` port.

``platform_report`` binds the platform's keys instead: every key playing a role in ``chain_service_keys``
(the transaction sender, the randomness ECDSA and BLS keys, the oracle key, the native-oracle node key:
the public keys the contracts and the designation trust). It returns the report with the role -> key
map, after checking that the enclave bound exactly those public keys, so that anyone holding
``attestation:read`` can check that the keys the contracts trust live in the attested enclave.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neo_service_layer.enclave.wire.errors import Conflict, InvalidInput, NotFound
from neo_service_layer.enclave.wire.keys import KeyId
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
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
PLATFORM_ATTESTATION_REQUEST = "attestation.platform_request"


class NoPlatformKeys(NotFound):
    """No key plays a platform role yet (the chain services were never provisioned)."""

    code = "no-platform-keys"


class PlatformKeyMismatch(Conflict):
    """The enclave's current version of a platform key is not the public key its role records."""

    code = "platform-key-mismatch"


@dataclass(frozen=True, slots=True)
class PlatformKey:
    """The enclave key playing a platform role, as ``chain_service_keys`` records it."""

    key_id: str
    kind: str
    public_key: bytes


@dataclass(frozen=True, slots=True)
class PlatformAttestation:
    """A report binding exactly the platform's public keys, and which role each key plays."""

    report: AttestationReport
    roles: Mapping[str, PlatformKey]


class AttestationService:
    def __init__(
        self,
        *,
        uow: KeysUnitOfWorkFactory,
        enclave: Callable[[], Enclave],
        audit: AuditLog,
        verifier: AttestationVerifier,
        role_keys: RoleKeyStore | None = None,
    ) -> None:
        self._uow = uow
        self._enclave = enclave
        self._audit = audit
        self._verifier = verifier
        self._role_keys = role_keys

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

    async def platform_report(
        self, principal: Principal, nonce: bytes, *, meta: RequestMeta = RequestMeta()
    ) -> PlatformAttestation:
        """A report over ``nonce`` binding every platform role's key, and the role -> key map.

        Raises:
            NoPlatformKeys: no role has a key yet.
            PlatformKeyMismatch: the enclave bound another public key than a role records (e.g. a
                platform key was rotated behind the contracts' back): no report is returned.
        """
        principal.require(ATTESTATION_READ)
        if not MIN_NONCE <= len(nonce) <= MAX_NONCE:
            raise InvalidInput(f"nonce: {MIN_NONCE}-{MAX_NONCE} bytes")
        stored = await self._role_keys.service_keys() if self._role_keys is not None else {}
        roles = {role: PlatformKey(*stored[role]) for role in sorted(stored)}
        if not roles:
            raise NoPlatformKeys("no platform keys: the chain services are not provisioned")
        key_ids = list(dict.fromkeys(k.key_id for k in roles.values()))
        report = await self._enclave().attest(nonce, key_ids)
        bound = {str(k.get("key_id")): str(k.get("public_key")) for k in report.get("keys", [])}
        expected = {k.key_id: k.public_key.hex() for k in roles.values()}
        if bound != expected:
            wrong = sorted(r for r, k in roles.items() if bound.get(k.key_id) != k.public_key.hex())
            raise PlatformKeyMismatch(
                f"the enclave's current keys of {', '.join(wrong) or 'the platform'} are not the"
                " public keys their roles record"
            )
        await self._audit.record(
            AuditRecord(
                tenant_id=principal.tenant_id,
                actor=principal.actor,
                action=PLATFORM_ATTESTATION_REQUEST,
                outcome=Outcome.SUCCESS,
                target="enclave",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details={"roles": " ".join(roles), "nonce": nonce.hex(), "mode": str(report.get("mode"))},
            )
        )
        return PlatformAttestation(report, roles)

    def verify(
        self,
        principal: Principal,
        report: dict[str, Any],
        nonce: bytes,
        expected_public_keys: Sequence[bytes] = (),
    ) -> AttestationVerdict:
        principal.require(ATTESTATION_READ)
        return self._verifier.verify(report, nonce, expected_public_keys)


__all__ = [
    "AttestationService",
    "NoPlatformKeys",
    "PlatformAttestation",
    "PlatformKey",
    "PlatformKeyMismatch",
]
