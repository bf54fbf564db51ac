"""Keys service: create, list, sign (single and batch), verify, rotate, disable and destroy enclave keys.

The enclave holds the private keys; this service keeps the tenant-visible metadata and the sealed
records (so an enclave restarted empty is re-provisioned through the loader), applies the lifecycle
rules of ``domain.key_lifecycle`` and audits every key use and administrative action. Verification
needs public keys only and runs here, through ``PublicKeyCrypto``.

:class:`KeysService` is the one object the routes, the worker and the CLI hold: reading and verifying
are here, signing is :class:`KeySigning` and the key's lifecycle :class:`KeyLifecycle`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from neo_service_layer.enclave.wire.keys import KeyId, KeyKind, Purpose, SignatureFormat
from neo_service_layer.kernel.cache.ports import Cache
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.audit import RequestMeta
from neo_service_layer.services.keys.ports import KeyAddresses, KeysUnitOfWorkFactory, PublicKeyCrypto
from neo_service_layer.services.keys.rules import (
    DEFAULT_MAX_AGE,
    DESTRUCTION_GRACE,
    KeyNotFound,
    KeyVersion,
    ManagedKey,
)
from neo_service_layer.services.keys.scopes import KEYS_READ
from neo_service_layer.services.keys.use_cases.lifecycle import DestructionRun, KeyLifecycle
from neo_service_layer.services.keys.use_cases.signing import KeySigning, Signed
from neo_service_layer.services.keys.use_cases.tenant_keys import KeyView, TenantKeys


class KeysService:
    def __init__(
        self,
        *,
        uow: KeysUnitOfWorkFactory,
        enclave: Callable[[], Enclave],
        audit: AuditLog,
        clock: Clock,
        crypto: PublicKeyCrypto,
        max_age: timedelta = DEFAULT_MAX_AGE,
        destruction_grace: timedelta = DESTRUCTION_GRACE,
        catalogue: Cache[tuple[ManagedKey, ...]] | None = None,
    ) -> None:
        self._uow = uow
        self._crypto = crypto
        self._keys = TenantKeys(
            uow=uow, audit=audit, clock=clock, crypto=crypto, max_age=max_age, catalogue=catalogue
        )
        self._signing = KeySigning(keys=self._keys, enclave=enclave)
        self._lifecycle = KeyLifecycle(keys=self._keys, enclave=enclave, destruction_grace=destruction_grace)

    @property
    def max_age(self) -> timedelta:
        """Age after which an active key is due for rotation."""
        return self._keys.max_age

    @max_age.setter
    def max_age(self, value: timedelta) -> None:
        self._keys.max_age = value

    # Reading ------------------------------------------------------------------------------------

    def view(self, key: ManagedKey) -> KeyView:
        return self._keys.view(key)

    async def list_keys(self, principal: Principal) -> list[KeyView]:
        principal.require(KEYS_READ)
        return [self.view(k) for k in await self._keys.catalogue(principal.tenant_id)]

    async def get(self, principal: Principal, key_id: KeyId) -> KeyView:
        """One key as shown; a key the cached catalogue does not hold yet (made a moment ago on
        another replica) is read from the database."""
        principal.require(KEYS_READ)
        for key in await self._keys.catalogue(principal.tenant_id):
            if key.key_id == key_id:
                return self.view(key)
        return self.view(await self._keys.get(principal.tenant_id, key_id))

    async def load_sealed_record(self, key_id: KeyId, version: int | None) -> bytes:
        """Read a sealed record for the enclave client's loader (no tenant context needed)."""
        async with self._uow(None) as uow:
            record = await uow.sealed_records.get(key_id, version)
        if record is None:
            raise KeyNotFound(f"no sealed record for key {key_id}")
        return record

    # Verifying (public keys only) ---------------------------------------------------------------

    async def verify_held(
        self,
        principal: Principal,
        key_id: KeyId,
        message: bytes,
        signature: bytes,
        *,
        fmt: SignatureFormat,
        version: int | None = None,
        network_magic: int | None = None,
    ) -> tuple[bool, KeyVersion]:
        """Verify against one of our keys (any version, retired ones too)."""
        principal.require(KEYS_READ)
        key = await self._keys.get(principal.tenant_id, key_id)
        item = key.version(version)
        valid = self._crypto.verify(key.kind, fmt, item.public_key, message, signature, network_magic)
        return valid, item

    def verify_public(
        self,
        principal: Principal,
        kind: KeyKind,
        public_key: bytes,
        message: bytes,
        signature: bytes,
        *,
        fmt: SignatureFormat,
        network_magic: int | None = None,
    ) -> bool:
        """Verify against any public key (keys we do not hold included)."""
        principal.require(KEYS_READ)
        return self._crypto.verify(kind, fmt, public_key, message, signature, network_magic)

    def addresses(self, kind: KeyKind, public_key: bytes) -> KeyAddresses:
        self._crypto.check_public_key(kind, public_key)
        return self._crypto.addresses(kind, public_key)

    # Signing (``KeySigning``) -------------------------------------------------------------------

    async def sign(
        self,
        principal: Principal,
        key_id: KeyId,
        messages: Sequence[bytes],
        *,
        purpose: Purpose,
        fmt: SignatureFormat | None = None,
        version: int | None = None,
        network_magic: int | None = None,
        batch: bool = False,
        meta: RequestMeta = RequestMeta(),
    ) -> Signed:
        """Sign one message (or, with ``batch``, up to 100 in one enclave round trip)."""
        return await self._signing.sign(
            principal,
            key_id,
            messages,
            purpose=purpose,
            fmt=fmt,
            version=version,
            network_magic=network_magic,
            batch=batch,
            meta=meta,
        )

    # Lifecycle (``KeyLifecycle``) ---------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        kind: KeyKind,
        label: str,
        purposes: frozenset[Purpose],
        max_signs_per_minute: int | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> KeyView:
        return await self._lifecycle.create(
            principal,
            kind=kind,
            label=label,
            purposes=purposes,
            max_signs_per_minute=max_signs_per_minute,
            meta=meta,
        )

    async def rotate(
        self,
        principal: Principal,
        key_id: KeyId,
        *,
        min_sign_version: int | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> KeyView:
        return await self._lifecycle.rotate(principal, key_id, min_sign_version=min_sign_version, meta=meta)

    async def disable(
        self, principal: Principal, key_id: KeyId, *, meta: RequestMeta = RequestMeta()
    ) -> KeyView:
        return await self._lifecycle.disable(principal, key_id, meta=meta)

    async def schedule_destruction(
        self, principal: Principal, key_id: KeyId, *, meta: RequestMeta = RequestMeta()
    ) -> KeyView:
        return await self._lifecycle.schedule_destruction(principal, key_id, meta=meta)

    async def cancel_destruction(
        self, principal: Principal, key_id: KeyId, *, meta: RequestMeta = RequestMeta()
    ) -> KeyView:
        return await self._lifecycle.cancel_destruction(principal, key_id, meta=meta)

    async def rotation_due(self) -> list[ManagedKey]:
        return await self._lifecycle.rotation_due()

    async def rotate_due(self) -> list[ManagedKey]:
        """Rotate every active key older than the maximum age (``nsl keys rotate-due``)."""
        return await self._lifecycle.rotate_due()

    async def destroy_due(self) -> DestructionRun:
        """Destroy every key whose destruction grace has passed (the worker's periodic job); keys the
        enclave refuses are reported in the run, not destroyed."""
        return await self._lifecycle.destroy_due()
