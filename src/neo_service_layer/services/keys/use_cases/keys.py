"""Keys service: create, list, sign (single and batch), verify, rotate, disable and destroy enclave keys.

The enclave holds the private keys; this service keeps the tenant-visible metadata and the sealed
records (so an enclave restarted empty is re-provisioned through the loader), applies the lifecycle
rules of ``domain.key_lifecycle`` and audits every key use and administrative action. Verification
needs public keys only and runs here, through ``PublicKeyCrypto``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from neo_service_layer.enclave.wire.keys import (
    EnclaveOperationError,
    KeyDisabled,
    KeyId,
    KeyKind,
    KeyPolicy,
    PolicyDenied,
    Purpose,
    SealedKey,
    SignatureFormat,
    TenantId,
)
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.identity import Principal, Scopes
from neo_service_layer.services.keys.ports import KeyAddresses, KeysUnitOfWorkFactory, PublicKeyCrypto
from neo_service_layer.services.keys.rules import (
    DEFAULT_MAX_AGE,
    DESTRUCTION_GRACE,
    InvalidKeyInput,
    KeyNotFound,
    KeyNotUsable,
    KeyVersion,
    ManagedKey,
    check_batch,
    check_label,
    check_purposes,
    default_format,
)
from neo_service_layer.services.keys.rules import KeyState as State

SYSTEM_ROTATION = "system:key-rotation"
SYSTEM_DESTRUCTION = "system:key-destruction"


class KeyActions:
    """Audit actions of the keys service (key use itself is ``Actions.KEY_USE``)."""

    CREATE = "key.create"
    ROTATE = "key.rotate"
    DISABLE = "key.disable"
    DESTROY_SCHEDULE = "key.destroy_schedule"
    DESTROY_CANCEL = "key.destroy_cancel"
    DESTROY = "key.destroy"


@dataclass(frozen=True, slots=True)
class Signed:
    """Signatures made by one version of a key."""

    key_id: KeyId
    kind: KeyKind
    version: int
    public_key: bytes
    fmt: SignatureFormat
    signatures: list[bytes]


@dataclass(frozen=True, slots=True)
class KeyView:
    """A key as the API shows it: metadata, addresses of each version, rotation due."""

    key: ManagedKey
    addresses: dict[int, KeyAddresses]
    rotation_due: bool


def message_digest(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


def batch_digest(messages: Sequence[bytes]) -> str:
    """SHA-256 over the concatenated SHA-256 of each message (what the audit log records)."""
    return hashlib.sha256(b"".join(hashlib.sha256(m).digest() for m in messages)).hexdigest()


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
    ) -> None:
        self._uow = uow
        self._enclave = enclave
        self._audit = audit
        self._clock = clock
        self._crypto = crypto
        self.max_age = max_age
        self._grace = destruction_grace

    # Reading ------------------------------------------------------------------------------------

    def view(self, key: ManagedKey) -> KeyView:
        addresses = {v.version: self._crypto.addresses(key.kind, v.public_key) for v in key.versions}
        return KeyView(key, addresses, key.rotation_due(self._clock.now(), self.max_age))

    async def list_keys(self, principal: Principal) -> list[KeyView]:
        principal.require(Scopes.KEYS_READ)
        async with self._uow(principal.tenant_id) as uow:
            keys = await uow.keys.for_tenant(principal.tenant_id)
        return [self.view(k) for k in keys]

    async def get(self, principal: Principal, key_id: KeyId) -> KeyView:
        principal.require(Scopes.KEYS_READ)
        return self.view(await self._key(principal.tenant_id, key_id))

    async def _key(self, tenant_id: TenantId, key_id: KeyId) -> ManagedKey:
        async with self._uow(tenant_id) as uow:
            key = await uow.keys.get(tenant_id, key_id)
        if key is None:
            raise KeyNotFound(f"no key {key_id!r} in this tenant")
        return key

    # Creating -----------------------------------------------------------------------------------

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
        principal.require(Scopes.KEYS_ADMIN)
        label = check_label(label)
        check_purposes(kind, purposes)
        policy = KeyPolicy(principal.tenant_id, purposes, max_signs_per_minute)
        sealed = await self._enclave().create_key(kind, policy)
        now = self._clock.now()
        key = ManagedKey(
            tenant_id=principal.tenant_id,
            key_id=sealed.info.key_id,
            label=label,
            kind=kind,
            purposes=purposes,
            status=State.ACTIVE,
            current_version=sealed.info.version,
            min_sign_version=sealed.info.version,
            created_at=now,
            max_signs_per_minute=max_signs_per_minute,
            versions=(KeyVersion(sealed.info.version, sealed.info.public_key, now),),
        )
        async with self._uow(principal.tenant_id) as uow:
            await uow.keys.add(key)
            await uow.sealed_records.put(key.key_id, sealed.info.version, sealed.sealed_record, now)
            await uow.commit()
        await self._record(
            principal.tenant_id,
            principal.actor,
            KeyActions.CREATE,
            key.key_id,
            meta,
            {"kind": kind.value, "purposes": " ".join(sorted(p.value for p in purposes))},
        )
        return self.view(key)

    # Signing ------------------------------------------------------------------------------------

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
        """Sign one message (or, with ``batch``, up to 100 in one enclave round trip).

        ``fmt`` defaults by key kind (``domain.key_lifecycle.default_format``).
        """
        principal.require(Scopes.KEYS_SIGN)
        check_batch(len(messages))
        key = await self._key(principal.tenant_id, key_id)
        fmt = fmt or default_format(key.kind)
        details = {
            "operation": "sign_batch" if batch else "sign",
            "purpose": purpose.value,
            "format": fmt.value,
            "count": str(len(messages)),
            "message_sha256": batch_digest(messages) if batch else message_digest(messages[0]),
        }
        try:
            number = key.sign_version(version)
            key.check_purpose(purpose)
            details["version"] = str(number)
            enclave, tenant = self._enclave(), principal.tenant_id
            if batch:
                signatures = await enclave.sign_batch(
                    key_id,
                    messages,
                    tenant=tenant,
                    purpose=purpose,
                    fmt=fmt,
                    version=number,
                    network_magic=network_magic,
                )
            else:
                one = await enclave.sign(
                    key_id,
                    messages[0],
                    tenant=tenant,
                    purpose=purpose,
                    fmt=fmt,
                    version=number,
                    network_magic=network_magic,
                )
                signatures = [one]
        except (KeyNotUsable, EnclaveOperationError) as exc:
            denied = isinstance(exc, KeyNotUsable | PolicyDenied | KeyDisabled)
            details["reason"] = type(exc).__name__
            outcome = Outcome.DENIED if denied else Outcome.FAILURE
            await self._record(
                principal.tenant_id, principal.actor, Actions.KEY_USE, key_id, meta, details, outcome
            )
            raise
        await self._record(principal.tenant_id, principal.actor, Actions.KEY_USE, key_id, meta, details)
        return Signed(key_id, key.kind, number, key.version(number).public_key, fmt, signatures)

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
        principal.require(Scopes.KEYS_READ)
        key = await self._key(principal.tenant_id, key_id)
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
        principal.require(Scopes.KEYS_READ)
        return self._crypto.verify(kind, fmt, public_key, message, signature, network_magic)

    def addresses(self, kind: KeyKind, public_key: bytes) -> KeyAddresses:
        self._crypto.check_public_key(kind, public_key)
        return self._crypto.addresses(kind, public_key)

    # Administration -----------------------------------------------------------------------------

    async def rotate(
        self,
        principal: Principal,
        key_id: KeyId,
        *,
        min_sign_version: int | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> KeyView:
        principal.require(Scopes.KEYS_ADMIN)
        key = await self._key(principal.tenant_id, key_id)
        return self.view(await self._rotate(key, principal.actor, min_sign_version, meta))

    async def _rotate(
        self, key: ManagedKey, actor: str, min_sign_version: int | None, meta: RequestMeta
    ) -> ManagedKey:
        if key.state is not State.ACTIVE:
            raise KeyNotUsable(f"key {key.key_id} is {key.state.value}; only active keys rotate")
        upcoming = key.current_version + 1
        if min_sign_version is not None and not key.min_sign_version <= min_sign_version <= upcoming:
            raise InvalidKeyInput(f"min_sign_version must be between {key.min_sign_version} and {upcoming}")
        sealed = await self._enclave().rotate(key.key_id, tenant=key.tenant_id)
        now = self._clock.now()
        rotated = key.rotated(
            KeyVersion(sealed.info.version, sealed.info.public_key, now), now, min_sign_version
        )
        async with self._uow(key.tenant_id) as uow:
            await uow.sealed_records.put(key.key_id, sealed.info.version, sealed.sealed_record, now)
            await uow.keys.save(rotated)
            await uow.commit()
        await self._record(
            key.tenant_id,
            actor,
            KeyActions.ROTATE,
            key.key_id,
            meta,
            {"version": str(rotated.current_version), "min_sign_version": str(rotated.min_sign_version)},
        )
        return rotated

    async def disable(
        self, principal: Principal, key_id: KeyId, *, meta: RequestMeta = RequestMeta()
    ) -> KeyView:
        principal.require(Scopes.KEYS_ADMIN)
        key = await self._key(principal.tenant_id, key_id)
        disabled = key.disabled(self._clock.now())
        resealed: list[SealedKey] = await self._enclave().disable(key_id, tenant=key.tenant_id)
        now = self._clock.now()
        async with self._uow(key.tenant_id) as uow:
            for record in resealed:
                await uow.sealed_records.put(key_id, record.info.version, record.sealed_record, now)
            await uow.keys.save(disabled)
            await uow.commit()
        await self._record(key.tenant_id, principal.actor, KeyActions.DISABLE, key_id, meta, {})
        return self.view(disabled)

    async def schedule_destruction(
        self, principal: Principal, key_id: KeyId, *, meta: RequestMeta = RequestMeta()
    ) -> KeyView:
        principal.require(Scopes.KEYS_ADMIN)
        key = await self._key(principal.tenant_id, key_id)
        scheduled = key.destruction_scheduled(self._clock.now(), self._grace)
        await self._save(scheduled)
        assert scheduled.destroy_after is not None
        details = {"destroy_after": scheduled.destroy_after.isoformat()}
        await self._record(key.tenant_id, principal.actor, KeyActions.DESTROY_SCHEDULE, key_id, meta, details)
        return self.view(scheduled)

    async def cancel_destruction(
        self, principal: Principal, key_id: KeyId, *, meta: RequestMeta = RequestMeta()
    ) -> KeyView:
        principal.require(Scopes.KEYS_ADMIN)
        key = await self._key(principal.tenant_id, key_id)
        cancelled = key.destruction_cancelled()
        await self._save(cancelled)
        await self._record(key.tenant_id, principal.actor, KeyActions.DESTROY_CANCEL, key_id, meta, {})
        return self.view(cancelled)

    async def _save(self, key: ManagedKey) -> None:
        async with self._uow(key.tenant_id) as uow:
            await uow.keys.save(key)
            await uow.commit()

    # Jobs (no principal: the worker and the CLI) ------------------------------------------------

    async def _all_keys(self) -> list[ManagedKey]:
        async with self._uow(None) as uow:
            tenant_ids = await uow.tenant_ids()
        found: list[ManagedKey] = []
        for tenant_id in tenant_ids:  # tenant by tenant: row-level security applies to every query
            async with self._uow(tenant_id) as uow:
                found.extend(await uow.keys.for_tenant(tenant_id))
        return found

    async def rotation_due(self) -> list[ManagedKey]:
        now = self._clock.now()
        return [k for k in await self._all_keys() if k.rotation_due(now, self.max_age)]

    async def rotate_due(self) -> list[ManagedKey]:
        """Rotate every active key older than the maximum age (``nsl keys rotate-due``)."""
        return [
            await self._rotate(key, SYSTEM_ROTATION, None, RequestMeta()) for key in await self.rotation_due()
        ]

    async def destroy_due(self) -> list[KeyId]:
        """Destroy every key whose destruction grace has passed (the worker's periodic job)."""
        now = self._clock.now()
        destroyed: list[KeyId] = []
        for key in await self._all_keys():
            if not key.destruction_due(now):
                continue
            # KeyDisabled: destroyed before (the enclave refuses its records); KeyNotFound: no record left
            with contextlib.suppress(KeyDisabled, KeyNotFound):
                await self._enclave().destroy(key.key_id, tenant=key.tenant_id)
            async with self._uow(key.tenant_id) as uow:
                await uow.sealed_records.delete_key(key.key_id)
                await uow.keys.save(key.destroyed(now))
                await uow.commit()
            await self._record(
                key.tenant_id, SYSTEM_DESTRUCTION, KeyActions.DESTROY, key.key_id, RequestMeta(), {}
            )
            destroyed.append(key.key_id)
        return destroyed

    async def load_sealed_record(self, key_id: KeyId, version: int | None) -> bytes:
        """Read a sealed record for the enclave client's loader (no tenant context needed)."""
        async with self._uow(None) as uow:
            record = await uow.sealed_records.get(key_id, version)
        if record is None:
            raise KeyNotFound(f"no sealed record for key {key_id}")
        return record

    async def _record(
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
