"""A tenant's keys as every keys use case reads them: load and save the metadata, show a key, audit.

Signing, the lifecycle and the catalogue (``KeysService``) share one :class:`TenantKeys`, so a key is
looked up, presented (:class:`KeyView`: addresses per version, rotation due) and audited (target
``key:<id>``) the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from neo_service_layer.enclave.wire.keys import KeyId, TenantId
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.rules.audit import AuditRecord, Outcome, RequestMeta
from neo_service_layer.services.keys.ports import KeyAddresses, KeysUnitOfWorkFactory, PublicKeyCrypto
from neo_service_layer.services.keys.rules import KeyNotFound, ManagedKey


class KeyActions:
    """Audit actions of the keys service (key use itself is ``Actions.KEY_USE``)."""

    CREATE = "key.create"
    ROTATE = "key.rotate"
    DISABLE = "key.disable"
    DESTROY_SCHEDULE = "key.destroy_schedule"
    DESTROY_CANCEL = "key.destroy_cancel"
    DESTROY = "key.destroy"


@dataclass(frozen=True, slots=True)
class KeyView:
    """A key as the API shows it: metadata, addresses of each version, rotation due."""

    key: ManagedKey
    addresses: dict[int, KeyAddresses]
    rotation_due: bool


class TenantKeys:
    def __init__(
        self,
        *,
        uow: KeysUnitOfWorkFactory,
        audit: AuditLog,
        clock: Clock,
        crypto: PublicKeyCrypto,
        max_age: timedelta,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.max_age = max_age
        self._audit = audit
        self._crypto = crypto

    def view(self, key: ManagedKey) -> KeyView:
        addresses = {v.version: self._crypto.addresses(key.kind, v.public_key) for v in key.versions}
        return KeyView(key, addresses, key.rotation_due(self.clock.now(), self.max_age))

    async def get(self, tenant_id: TenantId, key_id: KeyId) -> ManagedKey:
        async with self.uow(tenant_id) as uow:
            key = await uow.keys.get(tenant_id, key_id)
        if key is None:
            raise KeyNotFound(f"no key {key_id!r} in this tenant")
        return key

    async def save(self, key: ManagedKey) -> None:
        async with self.uow(key.tenant_id) as uow:
            await uow.keys.save(key)
            await uow.commit()

    async def record(
        self,
        tenant_id: TenantId,
        actor: str,
        action: str,
        key_id: KeyId,
        meta: RequestMeta,
        details: dict[str, str],
        outcome: Outcome = Outcome.SUCCESS,
    ) -> None:
        await self._audit.record(
            AuditRecord(
                tenant_id=tenant_id,
                actor=actor,
                action=action,
                outcome=outcome,
                target=f"key:{key_id}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details=details,
            )
        )
