"""The tenant-visible metadata of enclave keys: one row per key, one per public key version.

A key is read with its versions in one round trip (``get`` runs on every sign request); saving a key
adds the versions not stored yet (versions never change once written).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, bindparam, insert, select, update

from neo_service_layer.enclave.wire.keys import KeyId, KeyKind, Purpose
from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.services.keys.adapters.repositories.base import SqlRepository
from neo_service_layer.services.keys.adapters.tables import managed_key_versions, managed_keys
from neo_service_layer.services.keys.rules import KeyState, KeyVersion, ManagedKey

#: built once: constructing the statement costs more than running it (``SqlKeys.get`` is on every sign)
_KEY_WITH_VERSIONS = (
    select(
        managed_keys,
        managed_key_versions.c.version.label("v_version"),
        managed_key_versions.c.public_key.label("v_public_key"),
        managed_key_versions.c.created_at.label("v_created_at"),
    )
    .select_from(
        managed_keys.outerjoin(
            managed_key_versions,
            and_(
                managed_key_versions.c.tenant_id == managed_keys.c.tenant_id,
                managed_key_versions.c.key_id == managed_keys.c.key_id,
            ),
        )
    )
    .where(managed_keys.c.tenant_id == bindparam("tenant_id"), managed_keys.c.key_id == bindparam("key_id"))
    .order_by(managed_key_versions.c.version)
)


class SqlKeys(SqlRepository):
    async def add(self, key: ManagedKey) -> None:
        await self._conn.execute(insert(managed_keys).values(**_key_row(key), key_id=key.key_id))
        await self._add_versions(key, key.versions)

    async def get(self, tenant_id: str, key_id: KeyId) -> ManagedKey | None:
        """One round trip: the key row joined with its versions (this is on every sign request)."""
        ids = {"tenant_id": tenant_id, "key_id": key_id}
        rows = (await self._conn.execute(_KEY_WITH_VERSIONS, ids)).all()
        if not rows:
            return None
        found = [
            KeyVersion(row.v_version, bytes(row.v_public_key), utc_required(row.v_created_at))
            for row in rows
            if row.v_version is not None
        ]
        return _key(rows[0], {key_id: found})

    async def for_tenant(self, tenant_id: str) -> list[ManagedKey]:
        rows = (
            await self._conn.execute(
                select(managed_keys)
                .where(managed_keys.c.tenant_id == tenant_id)
                .order_by(managed_keys.c.created_at, managed_keys.c.key_id)
            )
        ).all()
        versions = await self._versions(tenant_id, [row.key_id for row in rows])
        return [_key(row, versions) for row in rows]

    async def save(self, key: ManagedKey) -> None:
        await self._conn.execute(
            update(managed_keys)
            .where(managed_keys.c.tenant_id == key.tenant_id, managed_keys.c.key_id == key.key_id)
            .values(**_key_row(key))
        )
        stored = await self._versions(key.tenant_id, [key.key_id])
        known = {v.version for v in stored.get(key.key_id, [])}
        await self._add_versions(key, [v for v in key.versions if v.version not in known])

    async def _add_versions(self, key: ManagedKey, versions: Any) -> None:
        for item in versions:
            await self._conn.execute(
                insert(managed_key_versions).values(
                    key_id=key.key_id,
                    version=item.version,
                    tenant_id=key.tenant_id,
                    public_key=item.public_key,
                    created_at=item.created_at,
                )
            )

    async def _versions(self, tenant_id: str, key_ids: list[str]) -> dict[str, list[KeyVersion]]:
        if not key_ids:
            return {}
        rows = (
            await self._conn.execute(
                select(managed_key_versions)
                .where(
                    managed_key_versions.c.tenant_id == tenant_id,
                    managed_key_versions.c.key_id.in_(key_ids),
                )
                .order_by(managed_key_versions.c.key_id, managed_key_versions.c.version)
            )
        ).all()
        found: dict[str, list[KeyVersion]] = {}
        for row in rows:
            found.setdefault(row.key_id, []).append(
                KeyVersion(row.version, bytes(row.public_key), utc_required(row.created_at))
            )
        return found


def _key_row(key: ManagedKey) -> dict[str, Any]:
    return {
        "tenant_id": key.tenant_id,
        "label": key.label,
        "kind": key.kind.value,
        "purposes": " ".join(sorted(p.value for p in key.purposes)),
        "status": key.status.value,
        "current_version": key.current_version,
        "min_sign_version": key.min_sign_version,
        "max_signs_per_minute": key.max_signs_per_minute,
        "created_at": key.created_at,
        "rotated_at": key.rotated_at,
        "disabled_at": key.disabled_at,
        "destroy_after": key.destroy_after,
        "destroyed_at": key.destroyed_at,
    }


def _key(row: Row[Any], versions: dict[str, list[KeyVersion]]) -> ManagedKey:
    return ManagedKey(
        tenant_id=row.tenant_id,
        key_id=row.key_id,
        label=row.label,
        kind=KeyKind(row.kind),
        purposes=frozenset(Purpose(p) for p in row.purposes.split()),
        status=KeyState(row.status),
        current_version=row.current_version,
        min_sign_version=row.min_sign_version,
        max_signs_per_minute=row.max_signs_per_minute,
        created_at=utc_required(row.created_at),
        rotated_at=utc(row.rotated_at),
        disabled_at=utc(row.disabled_at),
        destroy_after=utc(row.destroy_after),
        destroyed_at=utc(row.destroyed_at),
        versions=tuple(versions.get(row.key_id, [])),
    )
