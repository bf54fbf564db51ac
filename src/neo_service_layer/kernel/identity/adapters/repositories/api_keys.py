"""The API keys table: add, find by public prefix (with the tenant's plan), list, revoke, note last use.

``by_prefix`` authenticates a request before its tenant is known: it sets ``app.api_key_prefix`` for the
one RLS policy that allows that look-up, and only matches keys of active tenants.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update

from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.kernel.identity.adapters.repositories.base import SqlRepository
from neo_service_layer.kernel.identity.adapters.tables import api_keys, tenants
from neo_service_layer.kernel.identity.rules.api_keys import ApiKey

#: built once (this lookup authenticates every request that presents an API key)
_KEY_BY_PREFIX = (
    select(api_keys, tenants.c.plan)
    .join(tenants, tenants.c.id == api_keys.c.tenant_id)
    .where(api_keys.c.prefix == bindparam("prefix"), tenants.c.active.is_(True))
)


class SqlApiKeys(SqlRepository):
    async def add(self, key: ApiKey) -> None:
        await self._conn.execute(
            insert(api_keys).values(
                id=key.id,
                tenant_id=key.tenant_id,
                prefix=key.prefix,
                secret_hash=key.secret_hash,
                name=key.name,
                scopes=" ".join(sorted(key.scopes)),
                created_by=key.created_by,
                created_at=key.created_at,
                expires_at=key.expires_at,
            )
        )

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        await self._uow.set_local("app.api_key_prefix", prefix)
        row = (await self._conn.execute(_KEY_BY_PREFIX, {"prefix": prefix})).first()
        return _api_key(row, row.plan) if row else None

    async def get(self, tenant_id: str, key_id: str) -> ApiKey | None:
        query = select(api_keys).where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
        row = (await self._conn.execute(query)).first()
        return _api_key(row) if row else None

    async def for_tenant(self, tenant_id: str) -> list[ApiKey]:
        query = select(api_keys).where(api_keys.c.tenant_id == tenant_id).order_by(api_keys.c.created_at)
        return [_api_key(row) for row in (await self._conn.execute(query)).all()]

    async def revoke(self, tenant_id: str, key_id: str, now: datetime) -> bool:
        result = await self._conn.execute(
            update(api_keys)
            .where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
            )
            .values(revoked_at=now)
        )
        return bool(result.rowcount == 1)

    async def revoke_created_by(self, tenant_id: str, created_by: str, now: datetime) -> int:
        result = await self._conn.execute(
            update(api_keys)
            .where(
                api_keys.c.tenant_id == tenant_id,
                api_keys.c.created_by == created_by,
                api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount)

    async def touch(self, tenant_id: str, key_id: str, now: datetime) -> None:
        await self._conn.execute(
            update(api_keys)
            .where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
            .values(last_used_at=now)
        )


def _api_key(row: Row[Any], plan: str = "default") -> ApiKey:
    return ApiKey(
        id=row.id,
        tenant_id=row.tenant_id,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        name=row.name,
        scopes=frozenset(row.scopes.split()),
        created_by=row.created_by,
        created_at=utc_required(row.created_at),
        expires_at=utc(row.expires_at),
        last_used_at=utc(row.last_used_at),
        revoked_at=utc(row.revoked_at),
        plan=plan,
    )
