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
        found = await self._read(tenant_id, tenant_secrets.c.name == name)
        return found[0] if found else None

    async def for_tenant(self, tenant_id: str) -> list[TenantSecret]:
        return await self._read(tenant_id)

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

    async def _read(self, tenant_id: str, *where: Any) -> list[TenantSecret]:
        """Secrets with their versions in ONE statement: one snapshot even under PostgreSQL's read
        committed, so a secret deleted or rotated meanwhile is seen whole or not at all (two statements
        showed a deleted secret without its versions: a 404 for a whole listing)."""
        versions = tenant_secret_versions
        rows = (
            await self._conn.execute(
                select(
                    tenant_secrets,
                    versions.c.version.label("v_version"),
                    versions.c.created_at.label("v_created_at"),
                    versions.c.expires_at.label("v_expires_at"),
                    versions.c.source.label("v_source"),
                    versions.c.size.label("v_size"),
                )
                .outerjoin(
                    versions,
                    (versions.c.tenant_id == tenant_secrets.c.tenant_id)
                    & (versions.c.name == tenant_secrets.c.name),
                )
                .where(tenant_secrets.c.tenant_id == tenant_id, *where)
                .order_by(tenant_secrets.c.name, versions.c.version)
            )
        ).all()
        secrets: dict[str, Row[Any]] = {}
        found: dict[str, list[SecretVersion]] = {}
        for row in rows:
            secrets.setdefault(row.name, row)
            if row.v_version is not None:
                found.setdefault(row.name, []).append(
                    SecretVersion(
                        version=row.v_version,
                        created_at=utc_required(row.v_created_at),
                        expires_at=utc(row.v_expires_at),
                        source=row.v_source,
                        size=row.v_size,
                    )
                )
        return [_secret(row, found) for row in secrets.values()]


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
