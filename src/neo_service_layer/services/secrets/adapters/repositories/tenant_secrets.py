"""Tenant secrets: one row per secret (consumers, current version), one per sealed version of its value.

Listing reads metadata only; a value is read sealed, one version at a time, for the enclave to open.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.services.secrets.adapters.repositories.base import SqlRepository
from neo_service_layer.services.secrets.adapters.tables import tenant_secret_versions, tenant_secrets
from neo_service_layer.services.secrets.rules import Consumer, SecretVersion, TenantSecret


class SqlSecrets(SqlRepository):
    """Implements ``ports.SecretsRepository``."""

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
            "allowed_hosts": " ".join(secret.allowed_hosts),
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
        allowed_hosts=tuple(row.allowed_hosts.split()),
    )
