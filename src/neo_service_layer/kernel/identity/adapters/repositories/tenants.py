"""The tenants table: add a tenant, find one by id or name, list them all."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.exc import IntegrityError

from neo_service_layer.kernel.db.timestamps import utc_required
from neo_service_layer.kernel.identity.adapters.repositories.base import SqlRepository
from neo_service_layer.kernel.identity.adapters.tables import tenants
from neo_service_layer.kernel.identity.rules.accounts import Tenant
from neo_service_layer.kernel.identity.rules.errors import AlreadyExists


class SqlTenants(SqlRepository):
    async def add(self, tenant: Tenant) -> None:
        """Insert ``tenant``; ``AlreadyExists`` when another request took the name meanwhile."""
        try:
            await self._conn.execute(
                insert(tenants).values(
                    id=tenant.id,
                    name=tenant.name,
                    plan=tenant.plan,
                    active=tenant.active,
                    created_at=tenant.created_at,
                )
            )
        except IntegrityError as exc:
            raise AlreadyExists(f"a tenant named {tenant.name!r} exists already") from exc

    async def get(self, tenant_id: str) -> Tenant | None:
        row = (await self._conn.execute(select(tenants).where(tenants.c.id == tenant_id))).first()
        return _tenant(row) if row else None

    async def by_name(self, name: str) -> Tenant | None:
        row = (await self._conn.execute(select(tenants).where(tenants.c.name == name))).first()
        return _tenant(row) if row else None

    async def all(self) -> list[Tenant]:
        rows = (await self._conn.execute(select(tenants).order_by(tenants.c.created_at, tenants.c.id))).all()
        return [_tenant(row) for row in rows]


def _tenant(row: Row[Any]) -> Tenant:
    return Tenant(
        id=row.id, name=row.name, plan=row.plan, created_at=utc_required(row.created_at), active=row.active
    )
