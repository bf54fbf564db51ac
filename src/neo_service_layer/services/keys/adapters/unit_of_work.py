"""The keys unit of work: one transaction spans a key's rows and the records the enclave sealed for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.kernel.identity.adapters.tables import tenants
from neo_service_layer.services.keys.adapters.repositories.managed_keys import SqlKeys
from neo_service_layer.services.keys.adapters.repositories.sealed_records import SqlSealedRecords


class SqlKeysUnitOfWork(SqlUnitOfWork):
    """Implements ``ports.KeysUnitOfWork``."""

    def __init__(self, engine: AsyncEngine, tenant_id: str | None = None) -> None:
        super().__init__(engine, tenant_id)
        self.keys = SqlKeys(self)
        self.sealed_records = SqlSealedRecords(self)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        return self

    async def tenant_ids(self) -> list[str]:
        return list((await self.connection.execute(select(tenants.c.id).order_by(tenants.c.id))).scalars())


def keys_uow_factory(engine: AsyncEngine) -> Callable[[str | None], SqlKeysUnitOfWork]:
    def make(tenant_id: str | None) -> SqlKeysUnitOfWork:
        return SqlKeysUnitOfWork(engine, tenant_id)

    return make
