"""The memberships table: which user holds which role in which tenant (read joined with the user name).

``for_user`` runs at sign-in, before the tenant is known: it sets ``app.user_id`` for the one RLS policy
that lets a user read their own memberships across tenants.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from neo_service_layer.kernel.db.timestamps import utc_required
from neo_service_layer.kernel.identity.adapters.repositories.base import SqlRepository
from neo_service_layer.kernel.identity.adapters.tables import memberships, users
from neo_service_layer.kernel.identity.rules.accounts import Membership, Role


class SqlMemberships(SqlRepository):
    def _query(self) -> Any:
        return select(memberships, users.c.username).join(users, users.c.id == memberships.c.user_id)

    async def add(self, membership: Membership) -> None:
        await self._conn.execute(
            insert(memberships).values(
                tenant_id=membership.tenant_id,
                user_id=membership.user_id,
                role=membership.role.value,
                created_at=membership.created_at,
            )
        )

    async def get(self, tenant_id: str, user_id: str) -> Membership | None:
        query = self._query().where(memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id)
        row = (await self._conn.execute(query)).first()
        return _membership(row) if row else None

    async def for_user(self, user_id: str) -> list[Membership]:
        await self._uow.set_local("app.user_id", user_id)
        rows = (await self._conn.execute(self._query().where(memberships.c.user_id == user_id))).all()
        return [_membership(row) for row in rows]

    async def for_tenant(self, tenant_id: str) -> list[Membership]:
        query = self._query().where(memberships.c.tenant_id == tenant_id).order_by(memberships.c.created_at)
        return [_membership(row) for row in (await self._conn.execute(query)).all()]

    async def set_role(self, tenant_id: str, user_id: str, role: Role) -> None:
        await self._conn.execute(
            update(memberships)
            .where(memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id)
            .values(role=role.value)
        )

    async def remove(self, tenant_id: str, user_id: str) -> None:
        await self._conn.execute(
            delete(memberships).where(memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id)
        )


def _membership(row: Row[Any]) -> Membership:
    return Membership(
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        role=Role(row.role),
        created_at=utc_required(row.created_at),
        username=row.username,
    )
