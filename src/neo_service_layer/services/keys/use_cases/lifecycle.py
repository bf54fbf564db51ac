"""The life of a tenant's key: create, rotate, disable, schedule (or cancel) and carry out destruction.

A change to the key material is made by the enclave first (create, rotate, re-seal on disable, destroy);
the metadata and sealed records are then stored in one transaction and the change is audited. The jobs
(keys due for rotation, destruction due) run without a principal, for the worker and ``nsl keys``.

Scheduling destruction disables the key in the enclave (the tenant's own operation, through the api);
cancelling it enables the key again unless the tenant had disabled it. The enclave destroys only a key
disabled at least its grace period (7 days) before, by its own clock: the worker's job asks, and a key
the enclave refuses is skipped and reported, never marked destroyed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.keys import (
    DestructionRefused,
    KeyDisabled,
    KeyId,
    KeyKind,
    KeyPolicy,
    Purpose,
    SealedKey,
)
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.audit import RequestMeta
from neo_service_layer.services.keys.rules import (
    InvalidKeyInput,
    KeyNotFound,
    KeyNotUsable,
    KeyVersion,
    ManagedKey,
    check_label,
    check_purposes,
)
from neo_service_layer.services.keys.rules import KeyState as State
from neo_service_layer.services.keys.scopes import KEYS_ADMIN
from neo_service_layer.services.keys.use_cases.tenant_keys import KeyActions, KeyView, TenantKeys

SYSTEM_ROTATION = "system:key-rotation"
SYSTEM_DESTRUCTION = "system:key-destruction"


@dataclass(frozen=True, slots=True)
class DestructionRun:
    """What one run of the destruction job did: keys destroyed, and keys the enclave refused (with why)."""

    destroyed: tuple[KeyId, ...] = ()
    refused: tuple[tuple[KeyId, str], ...] = ()


class KeyLifecycle:
    def __init__(
        self, *, keys: TenantKeys, enclave: Callable[[], Enclave], destruction_grace: timedelta
    ) -> None:
        self._keys = keys
        self._enclave = enclave
        self._grace = destruction_grace

    def _as(self, principal: Principal) -> Enclave:
        """The enclave, sent the caller's API key (an enforcing tenant's key operations need it)."""
        return self._enclave().with_credential(principal.credential)

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
        principal.require(KEYS_ADMIN)
        label = check_label(label)
        check_purposes(kind, purposes)
        policy = KeyPolicy(principal.tenant_id, purposes, max_signs_per_minute)
        sealed = await self._as(principal).create_key(kind, policy)
        now = self._keys.clock.now()
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
        async with self._keys.uow(principal.tenant_id) as uow:
            await uow.keys.add(key)
            await uow.sealed_records.put(key.key_id, sealed.info.version, sealed.sealed_record, now)
            await uow.commit()
        await self._keys.changed(principal.tenant_id)
        await self._keys.record(
            principal.tenant_id,
            principal.actor,
            KeyActions.CREATE,
            key.key_id,
            meta,
            {"kind": kind.value, "purposes": " ".join(sorted(p.value for p in purposes))},
        )
        return self._keys.view(key)

    async def rotate(
        self,
        principal: Principal,
        key_id: KeyId,
        *,
        min_sign_version: int | None = None,
        meta: RequestMeta = RequestMeta(),
    ) -> KeyView:
        principal.require(KEYS_ADMIN)
        key = await self._keys.get(principal.tenant_id, key_id)
        rotated = await self._rotate(key, principal.actor, min_sign_version, meta, principal.credential)
        return self._keys.view(rotated)

    async def _rotate(
        self,
        key: ManagedKey,
        actor: str,
        min_sign_version: int | None,
        meta: RequestMeta,
        credential: ApiKeyCredential | None = None,
    ) -> ManagedKey:
        if key.state is not State.ACTIVE:
            raise KeyNotUsable(f"key {key.key_id} is {key.state.value}; only active keys rotate")
        upcoming = key.current_version + 1
        if min_sign_version is not None and not key.min_sign_version <= min_sign_version <= upcoming:
            raise InvalidKeyInput(f"min_sign_version must be between {key.min_sign_version} and {upcoming}")
        enclave = self._enclave().with_credential(credential)
        sealed = await enclave.rotate(key.key_id, tenant=key.tenant_id)
        now = self._keys.clock.now()
        rotated = key.rotated(
            KeyVersion(sealed.info.version, sealed.info.public_key, now), now, min_sign_version
        )
        async with self._keys.uow(key.tenant_id) as uow:
            await uow.sealed_records.put(key.key_id, sealed.info.version, sealed.sealed_record, now)
            await uow.keys.save(rotated)
            await uow.commit()
        await self._keys.changed(key.tenant_id)
        await self._keys.record(
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
        principal.require(KEYS_ADMIN)
        key = await self._keys.get(principal.tenant_id, key_id)
        disabled = key.disabled(self._keys.clock.now())
        await self._store(disabled, await self._as(principal).disable(key_id, tenant=key.tenant_id))
        await self._keys.record(key.tenant_id, principal.actor, KeyActions.DISABLE, key_id, meta, {})
        return self._keys.view(disabled)

    async def schedule_destruction(
        self, principal: Principal, key_id: KeyId, *, meta: RequestMeta = RequestMeta()
    ) -> KeyView:
        principal.require(KEYS_ADMIN)
        key = await self._keys.get(principal.tenant_id, key_id)
        scheduled = key.destruction_scheduled(self._keys.clock.now(), self._grace)
        # the enclave's grace counts from its own record of this disable
        await self._store(scheduled, await self._as(principal).disable(key_id, tenant=key.tenant_id))
        assert scheduled.destroy_after is not None
        details = {"destroy_after": scheduled.destroy_after.isoformat()}
        await self._keys.record(
            key.tenant_id, principal.actor, KeyActions.DESTROY_SCHEDULE, key_id, meta, details
        )
        return self._keys.view(scheduled)

    async def cancel_destruction(
        self, principal: Principal, key_id: KeyId, *, meta: RequestMeta = RequestMeta()
    ) -> KeyView:
        principal.require(KEYS_ADMIN)
        key = await self._keys.get(principal.tenant_id, key_id)
        cancelled = key.destruction_cancelled()
        resealed: Sequence[SealedKey] = ()
        if cancelled.status is State.ACTIVE:  # not disabled by the tenant: usable again
            resealed = await self._as(principal).enable(key_id, tenant=key.tenant_id)
        await self._store(cancelled, resealed)
        await self._keys.record(key.tenant_id, principal.actor, KeyActions.DESTROY_CANCEL, key_id, meta, {})
        return self._keys.view(cancelled)

    async def _store(self, key: ManagedKey, resealed: Sequence[SealedKey]) -> None:
        """Save the key with the records the enclave re-sealed, in one transaction."""
        now = self._keys.clock.now()
        async with self._keys.uow(key.tenant_id) as uow:
            for record in resealed:
                await uow.sealed_records.put(key.key_id, record.info.version, record.sealed_record, now)
            await uow.keys.save(key)
            await uow.commit()
        await self._keys.changed(key.tenant_id)

    # Jobs (no principal: the worker and the CLI) ------------------------------------------------

    async def _all_keys(self) -> list[ManagedKey]:
        async with self._keys.uow(None) as uow:
            tenant_ids = await uow.tenant_ids()
        found: list[ManagedKey] = []
        for tenant_id in tenant_ids:  # tenant by tenant: row-level security applies to every query
            async with self._keys.uow(tenant_id) as uow:
                found.extend(await uow.keys.for_tenant(tenant_id))
        return found

    async def rotation_due(self) -> list[ManagedKey]:
        now = self._keys.clock.now()
        return [k for k in await self._all_keys() if k.rotation_due(now, self._keys.max_age)]

    async def rotate_due(self) -> list[ManagedKey]:
        """Rotate every active key older than the maximum age (``nsl keys rotate-due``)."""
        return [
            await self._rotate(key, SYSTEM_ROTATION, None, RequestMeta()) for key in await self.rotation_due()
        ]

    async def destroy_due(self) -> DestructionRun:
        """Destroy every key whose destruction grace has passed (the worker's periodic job).

        A key the enclave refuses (``DestructionRefused``: not disabled, or disabled less than the
        enclave's grace ago) keeps its records and state and is reported; the next run asks again.
        """
        now = self._keys.clock.now()
        destroyed: list[KeyId] = []
        refused: list[tuple[KeyId, str]] = []
        for key in await self._all_keys():
            if not key.destruction_due(now):
                continue
            try:
                # KeyDisabled: destroyed before (the enclave refuses its records); KeyNotFound: no record
                with contextlib.suppress(KeyDisabled, KeyNotFound):
                    await self._enclave().destroy(key.key_id, tenant=key.tenant_id)
            except DestructionRefused as exc:
                refused.append((key.key_id, str(exc)))
                continue
            async with self._keys.uow(key.tenant_id) as uow:
                await uow.sealed_records.delete_key(key.key_id)
                await uow.keys.save(key.destroyed(now))
                await uow.commit()
            await self._keys.changed(key.tenant_id)
            await self._keys.record(
                key.tenant_id, SYSTEM_DESTRUCTION, KeyActions.DESTROY, key.key_id, RequestMeta(), {}
            )
            destroyed.append(key.key_id)
        return DestructionRun(tuple(destroyed), tuple(refused))
