"""A tenant's keys as every keys use case reads them: load and save the metadata, show a key, audit.

Signing, the lifecycle and the catalogue (``KeysService``) share one :class:`TenantKeys`, so a key is
looked up, presented (:class:`KeyView`: addresses per version, rotation due) and audited (target
``key:<id>``) the same way everywhere.

What the API shows (list and one key) may come from a cache of each tenant's keys, dropped here and on
every replica after each committed change (:meth:`TenantKeys.changed`). Signing and every lifecycle
step read the database: a disabled key is refused at once whatever a cache holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from neo_service_layer.enclave.wire.keys import KeyId, TenantId
from neo_service_layer.kernel.cache.ports import Cache
from neo_service_layer.kernel.cache.use_cases.single_flight import SingleFlight
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


def keys_tag(tenant_id: TenantId) -> str:
    """The cache tag of everything derived from a tenant's keys."""
    return f"keys:{tenant_id}"


class TenantKeys:
    def __init__(
        self,
        *,
        uow: KeysUnitOfWorkFactory,
        audit: AuditLog,
        clock: Clock,
        crypto: PublicKeyCrypto,
        max_age: timedelta,
        catalogue: Cache[tuple[ManagedKey, ...]] | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.max_age = max_age
        self._audit = audit
        self._crypto = crypto
        self._catalogue = catalogue
        self._reading = SingleFlight[tuple[TenantId, int], tuple[ManagedKey, ...]]()

    def view(self, key: ManagedKey) -> KeyView:
        addresses = {v.version: self._crypto.addresses(key.kind, v.public_key) for v in key.versions}
        return KeyView(key, addresses, key.rotation_due(self.clock.now(), self.max_age))

    async def get(self, tenant_id: TenantId, key_id: KeyId) -> ManagedKey:
        async with self.uow(tenant_id) as uow:
            key = await uow.keys.get(tenant_id, key_id)
        if key is None:
            raise KeyNotFound(f"no key {key_id!r} in this tenant")
        return key

    async def catalogue(self, tenant_id: TenantId) -> tuple[ManagedKey, ...]:
        """The tenant's keys, for showing: from the cache when it holds them.

        Concurrent misses share one read, and near its expiry the catalogue is read again by one
        request while the others are still answered from the cache: a tenant's list under load costs
        one read per time to live, not one per request in flight when it expires.
        """
        cache = self._catalogue
        if cache is None:
            return await self._read_catalogue(tenant_id)
        generation = cache.generation()
        flight = (tenant_id, generation)
        cached = cache.get(tenant_id)
        refresh = cache.expiring(tenant_id) and not self._reading.running(flight)
        if cached is not None and not refresh:
            return cached

        async def read() -> tuple[ManagedKey, ...]:
            keys = await self._read_catalogue(tenant_id)
            cache.put(tenant_id, keys, (keys_tag(tenant_id),), generation)
            return keys

        return await self._reading.run(flight, read)

    async def _read_catalogue(self, tenant_id: TenantId) -> tuple[ManagedKey, ...]:
        async with self.uow(tenant_id) as uow:
            return tuple(await uow.keys.for_tenant(tenant_id))

    async def changed(self, tenant_id: TenantId) -> None:
        """Call after committing a change to a tenant's keys: the cached catalogue is dropped everywhere."""
        if self._catalogue is not None:
            await self._catalogue.invalidate(keys_tag(tenant_id))

    async def save(self, key: ManagedKey) -> None:
        async with self.uow(key.tenant_id) as uow:
            await uow.keys.save(key)
            await uow.commit()
        await self.changed(key.tenant_id)

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
