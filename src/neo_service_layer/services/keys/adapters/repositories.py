"""Repositories of the keys and secrets services, and their unit of work (SQLAlchemy Core).

Every query on a tenant table filters by tenant explicitly; on PostgreSQL row-level security enforces
the same filter a second time (``SqlUnitOfWork`` sets ``app.tenant_id`` per transaction). The sealed key
records are global (no tenant, no RLS): see ``keys_tables`` for why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import Row, and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.keys import KeyId, KeyKind, Purpose, SealedKey
from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.kernel.enclave_client.ports import SealedRecordLoader
from neo_service_layer.kernel.identity.adapters.tables import tenants
from neo_service_layer.services.keys.adapters.tables import (
    key_sealed_records,
    managed_key_versions,
    managed_keys,
    secret_sources,
    tenant_secret_versions,
    tenant_secrets,
)
from neo_service_layer.services.keys.ports import RememberedSource
from neo_service_layer.services.keys.rules import KeyNotFound, KeyState, KeyVersion, ManagedKey
from neo_service_layer.services.secrets.rules import Consumer, SecretVersion, TenantSecret


class _Repository:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    @property
    def _conn(self) -> Any:
        return self._uow.connection


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


class SqlKeys(_Repository):
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


class SqlSealedRecords(_Repository):
    async def put(self, key_id: KeyId, version: int, sealed: bytes, created_at: datetime) -> None:
        table = key_sealed_records
        found = (
            await self._conn.execute(
                select(table.c.version).where(table.c.key_id == key_id, table.c.version == version)
            )
        ).first()
        if found is None:
            await self._conn.execute(
                insert(table).values(key_id=key_id, version=version, sealed=sealed, created_at=created_at)
            )
        else:
            await self._conn.execute(
                update(table)
                .where(table.c.key_id == key_id, table.c.version == version)
                .values(sealed=sealed)
            )

    async def get(self, key_id: KeyId, version: int | None) -> bytes | None:
        table = key_sealed_records
        query = select(table.c.sealed).where(table.c.key_id == key_id)
        if version is None:
            query = query.order_by(table.c.version.desc()).limit(1)
        else:
            query = query.where(table.c.version == version)
        value = (await self._conn.execute(query)).scalar()
        return bytes(value) if value is not None else None

    async def delete_key(self, key_id: KeyId) -> int:
        result = await self._conn.execute(
            delete(key_sealed_records).where(key_sealed_records.c.key_id == key_id)
        )
        return int(result.rowcount or 0)


class SqlSecrets(_Repository):
    async def get(self, tenant_id: str, name: str) -> TenantSecret | None:
        row = (
            await self._conn.execute(
                select(tenant_secrets).where(
                    tenant_secrets.c.tenant_id == tenant_id, tenant_secrets.c.name == name
                )
            )
        ).first()
        if row is None:
            return None
        return _secret(row, await self._versions(tenant_id, [name]))

    async def for_tenant(self, tenant_id: str) -> list[TenantSecret]:
        rows = (
            await self._conn.execute(
                select(tenant_secrets)
                .where(tenant_secrets.c.tenant_id == tenant_id)
                .order_by(tenant_secrets.c.name)
            )
        ).all()
        versions = await self._versions(tenant_id, [row.name for row in rows])
        return [_secret(row, versions) for row in rows]

    async def save(self, secret: TenantSecret, sealed: bytes | None = None) -> None:
        values = {
            "consumers": " ".join(sorted(c.value for c in secret.consumers)),
            "current_version": secret.current_version,
            "updated_at": secret.updated_at,
        }
        where = (tenant_secrets.c.tenant_id == secret.tenant_id, tenant_secrets.c.name == secret.name)
        result = await self._conn.execute(update(tenant_secrets).where(*where).values(**values))
        if not result.rowcount:
            await self._conn.execute(
                insert(tenant_secrets).values(
                    tenant_id=secret.tenant_id, name=secret.name, created_at=secret.created_at, **values
                )
            )
        if sealed is not None:
            current = secret.current
            await self._conn.execute(
                insert(tenant_secret_versions).values(
                    tenant_id=secret.tenant_id,
                    name=secret.name,
                    version=current.version,
                    sealed=sealed,
                    size=current.size,
                    source=current.source,
                    created_at=current.created_at,
                    expires_at=current.expires_at,
                )
            )

    async def sealed(self, tenant_id: str, name: str, version: int) -> bytes | None:
        table = tenant_secret_versions
        value = (
            await self._conn.execute(
                select(table.c.sealed).where(
                    table.c.tenant_id == tenant_id, table.c.name == name, table.c.version == version
                )
            )
        ).scalar()
        return bytes(value) if value is not None else None

    async def delete(self, tenant_id: str, name: str) -> bool:
        await self._conn.execute(
            delete(tenant_secret_versions).where(
                tenant_secret_versions.c.tenant_id == tenant_id, tenant_secret_versions.c.name == name
            )
        )
        result = await self._conn.execute(
            delete(tenant_secrets).where(
                tenant_secrets.c.tenant_id == tenant_id, tenant_secrets.c.name == name
            )
        )
        return bool(result.rowcount)

    async def _versions(self, tenant_id: str, names: list[str]) -> dict[str, list[SecretVersion]]:
        if not names:
            return {}
        table = tenant_secret_versions
        rows = (
            await self._conn.execute(
                select(
                    table.c.name,
                    table.c.version,
                    table.c.created_at,
                    table.c.expires_at,
                    table.c.source,
                    table.c.size,
                )
                .where(table.c.tenant_id == tenant_id, table.c.name.in_(names))
                .order_by(table.c.name, table.c.version)
            )
        ).all()
        found: dict[str, list[SecretVersion]] = {}
        for row in rows:
            found.setdefault(row.name, []).append(
                SecretVersion(
                    version=row.version,
                    created_at=utc_required(row.created_at),
                    expires_at=utc(row.expires_at),
                    source=row.source,
                    size=row.size,
                )
            )
        return found


def _secret(row: Row[Any], versions: dict[str, list[SecretVersion]]) -> TenantSecret:
    return TenantSecret(
        tenant_id=row.tenant_id,
        name=row.name,
        consumers=frozenset(Consumer(c) for c in row.consumers.split()),
        current_version=row.current_version,
        created_at=utc_required(row.created_at),
        updated_at=utc_required(row.updated_at),
        versions=tuple(versions.get(row.name, [])),
    )


class SqlSecretSources(_Repository):
    async def put(self, source: RememberedSource) -> None:
        where = (secret_sources.c.tenant_id == source.tenant_id, secret_sources.c.name == source.name)
        await self._conn.execute(delete(secret_sources).where(*where))
        await self._conn.execute(
            insert(secret_sources).values(
                tenant_id=source.tenant_id,
                name=source.name,
                provider=source.provider,
                sealed_config=source.sealed_config,
                created_at=source.created_at,
            )
        )

    async def get(self, tenant_id: str, name: str) -> RememberedSource | None:
        row = (
            await self._conn.execute(
                select(secret_sources).where(
                    secret_sources.c.tenant_id == tenant_id, secret_sources.c.name == name
                )
            )
        ).first()
        return _source(row) if row else None

    async def for_tenant(self, tenant_id: str) -> list[RememberedSource]:
        rows = (
            await self._conn.execute(
                select(secret_sources)
                .where(secret_sources.c.tenant_id == tenant_id)
                .order_by(secret_sources.c.name)
            )
        ).all()
        return [_source(row) for row in rows]


def _source(row: Row[Any]) -> RememberedSource:
    return RememberedSource(
        tenant_id=row.tenant_id,
        name=row.name,
        provider=row.provider,
        sealed_config=bytes(row.sealed_config),
        created_at=utc_required(row.created_at),
    )


class SqlKeysUnitOfWork(SqlUnitOfWork):
    """Implements ``ports.keys.KeysUnitOfWork``."""

    def __init__(self, engine: AsyncEngine, tenant_id: str | None = None) -> None:
        super().__init__(engine, tenant_id)
        self.keys = SqlKeys(self)
        self.sealed_records = SqlSealedRecords(self)
        self.secrets = SqlSecrets(self)
        self.secret_sources = SqlSecretSources(self)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        return self

    async def tenant_ids(self) -> list[str]:
        return list((await self.connection.execute(select(tenants.c.id).order_by(tenants.c.id))).scalars())


def keys_uow_factory(engine: AsyncEngine) -> Callable[[str | None], SqlKeysUnitOfWork]:
    def make(tenant_id: str | None) -> SqlKeysUnitOfWork:
        return SqlKeysUnitOfWork(engine, tenant_id)

    return make


def sealed_record_loader(engine: AsyncEngine) -> SealedRecordLoader:
    """The enclave client's ``SealedRecordLoader``: reads ``key_sealed_records`` (no tenant needed)."""

    async def load(key_id: KeyId, version: int | None) -> bytes:
        async with SqlKeysUnitOfWork(engine) as uow:
            record = await uow.sealed_records.get(key_id, version)
        if record is None:
            raise KeyNotFound(f"no sealed record for key {key_id} version {version or 'latest'}")
        return record

    return load


class SqlSealedRecordStore:
    """Every row of ``key_sealed_records``, for key migration (``services.key_migration.RecordStore``).

    Storing a re-sealed record replaces the old enclave's record of the same key id and version.
    """

    def __init__(self, engine: AsyncEngine, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._now = now

    async def all_records(self) -> list[tuple[KeyId, int, bytes]]:
        table = key_sealed_records
        async with SqlKeysUnitOfWork(self._engine) as uow:
            rows = (
                await uow.connection.execute(
                    select(table.c.key_id, table.c.version, table.c.sealed).order_by(
                        table.c.key_id, table.c.version
                    )
                )
            ).all()
        return [(str(row.key_id), int(row.version), bytes(row.sealed)) for row in rows]

    async def put_records(self, records: Sequence[SealedKey]) -> None:
        now = self._now()
        async with SqlKeysUnitOfWork(self._engine) as uow:
            for record in records:
                await uow.sealed_records.put(
                    record.info.key_id, record.info.version, record.sealed_record, now
                )
            await uow.commit()

    async def unknown_keys(self, key_ids: Sequence[KeyId]) -> list[KeyId]:
        """Those of ``key_ids`` with no row in ``managed_keys`` (created after a restored backup)."""
        if not key_ids:
            return []
        async with SqlKeysUnitOfWork(self._engine) as uow:
            known = set(
                (
                    await uow.connection.execute(
                        select(managed_keys.c.key_id).where(managed_keys.c.key_id.in_(list(key_ids)))
                    )
                ).scalars()
            )
        return sorted(set(key_ids) - known)
