"""``idempotency_keys`` (tenant data, row-level security on PostgreSQL): one row per claimed key.

The row holds the scope's digest (not the body: only its keyed fingerprint), the claim and, once the
request completed below 500, the response to replay. A response that carried a one-time secret is kept
without its body (``body`` NULL).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    delete,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.db.tables import metadata
from neo_service_layer.kernel.db.timestamps import utc_required
from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.kernel.idempotency.rules import KeyRecord, KeyScope, State, StoredResponse
from neo_service_layer.kernel.identity.adapters.tables import tenants

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("scope_digest", String(64), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("claim_token", String(32), nullable=False),
    Column("locked_until", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("status", Integer, nullable=True),
    Column("headers", Text, nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("resource_id", String(128), nullable=True),
    PrimaryKeyConstraint("tenant_id", "scope_digest", name="pk_idempotency_keys"),
)

TENANT_TABLES = ("idempotency_keys",)


def _row_key(scope: KeyScope) -> Any:
    return and_(
        idempotency_keys.c.tenant_id == scope.tenant_id,
        idempotency_keys.c.scope_digest == scope.digest(),
    )


class SqlKeyStore:
    """Implements ``ports.KeyStore``; every statement runs in the key's tenant (RLS on PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_claim(
        self, scope: KeyScope, fingerprint: str, token: str, locked_until: datetime, expires_at: datetime
    ) -> bool:
        async with SqlUnitOfWork(self._engine, scope.tenant_id) as uow:
            dialect = postgresql if uow.is_postgres else sqlite
            statement = (
                dialect.insert(idempotency_keys)
                .values(
                    tenant_id=scope.tenant_id,
                    scope_digest=scope.digest(),
                    actor=scope.actor,
                    method=scope.method,
                    path=scope.path,
                    idempotency_key=scope.key,
                    fingerprint=fingerprint,
                    state=State.IN_FLIGHT.value,
                    claim_token=token,
                    locked_until=locked_until,
                    expires_at=expires_at,
                )
                .on_conflict_do_nothing()
            )
            inserted = bool((await uow.connection.execute(statement)).rowcount)
            await uow.commit()
        return inserted

    async def find(self, scope: KeyScope) -> KeyRecord | None:
        async with SqlUnitOfWork(self._engine, scope.tenant_id) as uow:
            row = (await uow.connection.execute(select(idempotency_keys).where(_row_key(scope)))).first()
        if row is None:
            return None
        response = None
        if row.state == State.COMPLETED.value:
            headers = tuple((str(n), str(v)) for n, v in json.loads(row.headers or "[]"))
            response = StoredResponse(row.status, headers, row.body, row.resource_id)
        return KeyRecord(
            fingerprint=row.fingerprint,
            state=State(row.state),
            claim_token=row.claim_token,
            locked_until=utc_required(row.locked_until),
            expires_at=utc_required(row.expires_at),
            response=response,
        )

    async def take_over(
        self,
        scope: KeyScope,
        previous_token: str,
        fingerprint: str,
        token: str,
        locked_until: datetime,
        expires_at: datetime,
    ) -> bool:
        statement = (
            update(idempotency_keys)
            .where(_row_key(scope), idempotency_keys.c.claim_token == previous_token)
            .values(
                fingerprint=fingerprint,
                state=State.IN_FLIGHT.value,
                claim_token=token,
                locked_until=locked_until,
                expires_at=expires_at,
                status=None,
                headers=None,
                body=None,
                resource_id=None,
            )
        )
        return await self._change(scope.tenant_id, statement)

    async def complete(self, scope: KeyScope, token: str, response: StoredResponse) -> bool:
        statement = (
            update(idempotency_keys)
            .where(_row_key(scope), idempotency_keys.c.claim_token == token)
            .values(
                state=State.COMPLETED.value,
                status=response.status,
                headers=json.dumps([list(pair) for pair in response.headers]),
                body=response.body,
                resource_id=response.resource_id,
            )
        )
        return await self._change(scope.tenant_id, statement)

    async def release(self, scope: KeyScope, token: str) -> None:
        statement = delete(idempotency_keys).where(_row_key(scope), idempotency_keys.c.claim_token == token)
        await self._change(scope.tenant_id, statement)

    async def tenant_ids(self) -> list[str]:
        async with SqlUnitOfWork(self._engine) as uow:
            return list((await uow.connection.execute(select(tenants.c.id).order_by(tenants.c.id))).scalars())

    async def purge_expired(self, tenant_id: str, now: datetime) -> int:
        async with SqlUnitOfWork(self._engine, tenant_id) as uow:
            result = await uow.connection.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.expires_at <= now
                )
            )
            await uow.commit()
        return int(result.rowcount or 0)

    async def _change(self, tenant_id: str, statement: Any) -> bool:
        async with SqlUnitOfWork(self._engine, tenant_id) as uow:
            changed = bool((await uow.connection.execute(statement)).rowcount)
            await uow.commit()
        return changed
