"""Remembered secret sources: a tenant's external secret store configurations, kept sealed for re-sync.

The configuration (credentials included) is sealed by the enclave before it is stored; putting a source
under a name it already has replaces it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select

from neo_service_layer.kernel.db.timestamps import utc_required
from neo_service_layer.services.secrets.adapters.repositories.base import SqlRepository
from neo_service_layer.services.secrets.adapters.tables import secret_sources
from neo_service_layer.services.secrets.ports import RememberedSource


class SqlSecretSources(SqlRepository):
    """Implements ``ports.SecretSourcesRepository``."""

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
