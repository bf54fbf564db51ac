"""The identity unit of work: one transaction over every identity repository."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.kernel.identity.adapters.repositories.api_keys import SqlApiKeys
from neo_service_layer.kernel.identity.adapters.repositories.login_throttle import SqlLoginThrottle
from neo_service_layer.kernel.identity.adapters.repositories.memberships import SqlMemberships
from neo_service_layer.kernel.identity.adapters.repositories.signing_keys import SqlSigningKeys
from neo_service_layer.kernel.identity.adapters.repositories.tenants import SqlTenants
from neo_service_layer.kernel.identity.adapters.repositories.tokens import SqlRefreshTokens, SqlRevokedTokens
from neo_service_layer.kernel.identity.adapters.repositories.users import SqlUsers

_SET_LOCAL = text("SELECT set_config(:name, :value, true)")


class SqlIdentityUnitOfWork(SqlUnitOfWork):
    """Implements ``ports.identity.IdentityUnitOfWork``."""

    def __init__(self, engine: AsyncEngine, tenant_id: str | None = None) -> None:
        super().__init__(engine, tenant_id)
        self.tenants = SqlTenants(self)
        self.users = SqlUsers(self)
        self.memberships = SqlMemberships(self)
        self.api_keys = SqlApiKeys(self)
        self.refresh_tokens = SqlRefreshTokens(self)
        self.revoked_tokens = SqlRevokedTokens(self)
        self.throttle = SqlLoginThrottle(self)
        self.signing_keys = SqlSigningKeys(self)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        return self

    async def set_local(self, name: str, value: str) -> None:
        """A transaction-local setting that RLS policies read (PostgreSQL; nothing on SQLite)."""
        if self.is_postgres:
            await self.connection.execute(_SET_LOCAL, {"name": name, "value": value})

    async def enter_tenant(self, tenant_id: str) -> None:
        """Scope the rest of this transaction to ``tenant_id`` (once; never to a second tenant)."""
        if self.tenant_id is not None and self.tenant_id != tenant_id:
            raise RuntimeError("this unit of work is bound to another tenant")
        self.tenant_id = tenant_id
        await self.set_local("app.tenant_id", tenant_id)


type SqlIdentityUnitOfWorkFactory = Callable[[str | None], SqlIdentityUnitOfWork]


def identity_uow_factory(engine: AsyncEngine) -> SqlIdentityUnitOfWorkFactory:
    def make(tenant_id: str | None) -> SqlIdentityUnitOfWork:
        return SqlIdentityUnitOfWork(engine, tenant_id)

    return make
