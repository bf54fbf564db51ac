"""The audit log on SQL: append-only entries, hash-chained per tenant, appends serialised per chain.

Each append is its own short transaction: insert the chain-head row if missing, lock it
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the first statement is a write, which takes the
database's single write lock, and an in-process lock keeps this process's appends in line), compute the
next entry from the head, insert it and move the head. ``UNIQUE (tenant_id, seq)`` refuses a fork even
if serialisation were bypassed. On PostgreSQL the application role may only SELECT and INSERT
``audit_events`` (no UPDATE, no DELETE).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.adapters.db.identity_repositories import utc_required
from neo_service_layer.adapters.db.identity_tables import audit_chain_heads, audit_events, tenants
from neo_service_layer.adapters.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditRecord,
    ChainBreak,
    chain_entry,
    verify_chain,
)
from neo_service_layer.ports.clock import Clock

VERIFY_BATCH = 1000


class SqlAuditLog:
    """Implements ``ports.audit.AuditLog``."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._sqlite_lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def _serialised(self) -> AsyncIterator[None]:
        if self._engine.dialect.name == "sqlite":
            async with self._sqlite_lock:
                yield
        else:
            yield

    async def record(self, record: AuditRecord) -> AuditEntry:
        async with self._serialised(), SqlUnitOfWork(self._engine, record.tenant_id) as uow:
            conn = uow.connection
            dialect = postgresql if uow.is_postgres else sqlite
            await conn.execute(
                dialect.insert(audit_chain_heads)
                .values(tenant_id=record.tenant_id, seq=0, hash=GENESIS_HASH)
                .on_conflict_do_nothing()
            )
            head = (
                await conn.execute(
                    select(audit_chain_heads.c.seq, audit_chain_heads.c.hash)
                    .where(audit_chain_heads.c.tenant_id == record.tenant_id)
                    .with_for_update()
                )
            ).one()
            now = self._clock.now().astimezone(UTC)
            entry = chain_entry(record, seq=head.seq + 1, occurred_at=now, prev_hash=head.hash)
            await conn.execute(
                insert(audit_events).values(
                    tenant_id=entry.tenant_id,
                    seq=entry.seq,
                    occurred_at=entry.occurred_at,
                    actor=entry.actor,
                    action=entry.action,
                    target=entry.target,
                    outcome=entry.outcome,
                    request_id=entry.request_id,
                    client_ip=entry.client_ip,
                    details=json.dumps(dict(entry.details), sort_keys=True),
                    prev_hash=entry.prev_hash,
                    hash=entry.hash,
                )
            )
            await conn.execute(
                update(audit_chain_heads)
                .where(audit_chain_heads.c.tenant_id == record.tenant_id)
                .values(seq=entry.seq, hash=entry.hash)
            )
            await uow.commit()
        return entry

    async def page(self, query: AuditQuery) -> AuditPage:
        conditions: list[Any] = [audit_events.c.tenant_id == query.tenant_id]
        if query.action:
            conditions.append(audit_events.c.action == query.action)
        if query.actor:
            conditions.append(audit_events.c.actor == query.actor)
        if query.outcome:
            conditions.append(audit_events.c.outcome == query.outcome)
        if query.since:
            conditions.append(audit_events.c.occurred_at >= query.since.astimezone(UTC))
        if query.until:
            conditions.append(audit_events.c.occurred_at < query.until.astimezone(UTC))
        if query.before_seq is not None:
            conditions.append(audit_events.c.seq < query.before_seq)
        statement = (
            select(audit_events).where(*conditions).order_by(audit_events.c.seq.desc()).limit(query.limit + 1)
        )
        async with SqlUnitOfWork(self._engine, query.tenant_id) as uow:
            rows = (await uow.connection.execute(statement)).all()
        entries = tuple(_entry(row) for row in rows[: query.limit])
        more = len(rows) > query.limit
        return AuditPage(entries=entries, next_before_seq=entries[-1].seq if more and entries else None)

    async def verify(self, tenant_id: str) -> tuple[int, ChainBreak | None]:
        last_seq, last_hash, checked = 0, GENESIS_HASH, 0
        async with SqlUnitOfWork(self._engine, tenant_id) as uow:
            conn = uow.connection
            while True:
                rows = (
                    await conn.execute(
                        select(audit_events)
                        .where(audit_events.c.tenant_id == tenant_id, audit_events.c.seq > last_seq)
                        .order_by(audit_events.c.seq)
                        .limit(VERIFY_BATCH)
                    )
                ).all()
                batch = [_entry(row) for row in rows]
                broken = verify_chain(tenant_id, batch, start_prev_hash=last_hash, start_seq=last_seq + 1)
                if broken is not None:
                    return checked + max(0, broken.seq - last_seq - 1), broken  # intact entries before it
                checked += len(batch)
                if batch:
                    last_seq, last_hash = batch[-1].seq, batch[-1].hash
                if len(batch) < VERIFY_BATCH:
                    break
            head = (
                await conn.execute(
                    select(audit_chain_heads.c.seq, audit_chain_heads.c.hash).where(
                        audit_chain_heads.c.tenant_id == tenant_id
                    )
                )
            ).first()
        if head is not None and (head.seq != last_seq or head.hash != last_hash):
            return checked, ChainBreak(
                tenant_id,
                last_seq + 1,
                f"the chain head counts {head.seq} entries; later entries are missing",
            )
        return checked, None

    async def chains(self) -> list[str]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(tenants.c.id).order_by(tenants.c.id))).all()
        return [row.id for row in rows]


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        tenant_id=row.tenant_id,
        seq=row.seq,
        occurred_at=utc_required(row.occurred_at),
        actor=row.actor,
        action=row.action,
        outcome=row.outcome,
        target=row.target,
        request_id=row.request_id,
        client_ip=row.client_ip,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
