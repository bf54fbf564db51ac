"""Persistence of compute artefacts, functions and runs (SQLAlchemy Core).

Reads and writes of tenant tables run in a transaction scoped to the tenant (``app.tenant_id`` on
PostgreSQL, so row-level security applies). The owner index is read first by the worker, which only
knows a function id from the chain.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.events.adapters import publish
from neo_service_layer.kernel.events.rules import TenantEvent
from neo_service_layer.services.compute.adapters.tables import (
    compute_artifacts,
    compute_function_owners,
    compute_functions,
    compute_runs,
)
from neo_service_layer.services.compute.rules import ComputeFunction, Language, RunRecord

F, R, A = compute_functions, compute_runs, compute_artifacts


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _function(row: Any) -> ComputeFunction:
    return ComputeFunction(
        function_id=row.function_id,
        tenant_id=row.tenant_id,
        name=row.name,
        language=Language(row.language),
        digest=row.digest,
        size=int(row.size),
        limits={str(k): int(v) for k, v in json.loads(row.limits).items()},
        secrets=tuple(json.loads(row.secrets)),
        on_chain=bool(row.on_chain),
        created_at=_aware(row.created_at),
    )


def _run(row: Any) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        tenant_id=row.tenant_id,
        function_id=row.function_id,
        digest=row.digest,
        input_sha256=row.input_sha256,
        code=int(row.code),
        detail=row.detail,
        result=bytes(row.result),
        fuel_used=int(row.fuel_used),
        wall_ms=int(row.wall_ms),
        fetches=int(row.fetches),
        timestamp_ms=int(row.timestamp_ms),
        signature=bytes(row.signature),
        key_version=int(row.key_version),
        created_at=_aware(row.created_at),
    )


class ComputeStore:
    """Artefacts, functions and runs."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _scope(self, conn: AsyncConnection, tenant_id: str) -> None:
        if self._engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})

    async def put_artifact(self, digest: str, data: bytes, now: datetime) -> None:
        """Store the bytes under their digest, once (a second upload of the same bytes is a no-op)."""
        async with self._engine.begin() as conn:
            found = (await conn.execute(select(A.c.digest).where(A.c.digest == digest))).first()
            if found is not None:
                return
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(A).values(digest=digest, size=len(data), data=data, created_at=now))
        except IntegrityError:  # stored meanwhile by another request: the same bytes
            return

    async def artifact(self, digest: str) -> bytes | None:
        async with self._engine.connect() as conn:
            data = (await conn.execute(select(A.c.data).where(A.c.digest == digest))).scalar()
        return bytes(data) if data is not None else None

    async def add_function(self, fn: ComputeFunction) -> None:
        async with self._engine.begin() as conn:
            await self._scope(conn, fn.tenant_id)
            await conn.execute(
                insert(compute_function_owners).values(function_id=fn.function_id, tenant_id=fn.tenant_id)
            )
            await conn.execute(
                insert(F).values(
                    function_id=fn.function_id,
                    tenant_id=fn.tenant_id,
                    name=fn.name,
                    language=fn.language.value,
                    digest=fn.digest,
                    size=fn.size,
                    limits=json.dumps(fn.limits, sort_keys=True),
                    secrets=json.dumps(list(fn.secrets)),
                    on_chain=fn.on_chain,
                    created_at=fn.created_at,
                )
            )

    async def function(self, tenant_id: str, function_id: str) -> ComputeFunction | None:
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            row = (
                await conn.execute(
                    select(F).where(F.c.tenant_id == tenant_id, F.c.function_id == function_id)
                )
            ).first()
        return _function(row) if row is not None else None

    async def functions(self, tenant_id: str, *, after: str | None, limit: int) -> list[ComputeFunction]:
        query = select(F).where(F.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(F.c.function_id > after)
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            rows = (await conn.execute(query.order_by(F.c.function_id).limit(limit))).all()
        return [_function(r) for r in rows]

    async def resolve(self, function_id: str) -> ComputeFunction | None:
        """The function named on chain, whoever owns it (the worker's lookup)."""
        async with self._engine.connect() as conn:
            owner = (
                await conn.execute(
                    select(compute_function_owners.c.tenant_id).where(
                        compute_function_owners.c.function_id == function_id
                    )
                )
            ).scalar()
        return None if owner is None else await self.function(str(owner), function_id)

    async def add_run(self, run: RunRecord, event: TenantEvent) -> None:
        async with self._engine.begin() as conn:
            await self._scope(conn, run.tenant_id)
            await conn.execute(
                insert(R).values(
                    run_id=run.run_id,
                    tenant_id=run.tenant_id,
                    function_id=run.function_id,
                    digest=run.digest,
                    input_sha256=run.input_sha256,
                    code=run.code,
                    detail=run.detail,
                    result=run.result,
                    fuel_used=run.fuel_used,
                    wall_ms=run.wall_ms,
                    fetches=run.fetches,
                    timestamp_ms=run.timestamp_ms,
                    signature=run.signature,
                    key_version=run.key_version,
                    created_at=run.created_at,
                )
            )
            await publish(conn, [event])  # with the run, or not at all

    async def runs(self, tenant_id: str, function_id: str, *, limit: int) -> list[RunRecord]:
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            rows = (
                await conn.execute(
                    select(R)
                    .where(R.c.tenant_id == tenant_id, R.c.function_id == function_id)
                    .order_by(R.c.created_at.desc(), R.c.run_id)
                    .limit(limit)
                )
            ).all()
        return [_run(r) for r in rows]

    async def run(self, tenant_id: str, run_id: str) -> RunRecord | None:
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            row = (
                await conn.execute(select(R).where(R.c.tenant_id == tenant_id, R.c.run_id == run_id))
            ).first()
        return _run(row) if row is not None else None
