"""The audit log on SQL: append-only entries, hash-chained per tenant, appends serialised per chain.

Each append is its own short transaction: insert the chain-head row if missing, lock it
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite one upsert that returns the head is the first
statement, a write, which takes the database's single write lock, and an in-process lock keeps this
process's appends in line), compute the next entry from the head, insert it and move the head.
``UNIQUE (tenant_id, seq)`` refuses a fork even if serialisation were bypassed. On PostgreSQL the
application role may only SELECT and INSERT ``audit_events`` (no UPDATE, no DELETE).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.db.timestamps import utc_required
from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.kernel.events.adapters import publish
from neo_service_layer.kernel.events.rules import (
    AUDIT_SECURITY,
    TenantEvent,
    is_security_action,
    lifecycle_type,
)
from neo_service_layer.kernel.identity.adapters.tables import audit_chain_heads, audit_events, tenants
from neo_service_layer.kernel.identity.rules.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditRecord,
    ChainBreak,
    chain_entry,
    verify_chain,
)

VERIFY_BATCH = 1000
#: most records appended in one group commit
MAX_GROUP = 500


# The append's statements, built once (each append runs them; building costs more than running).
_LOCK_HEAD = (
    select(audit_chain_heads.c.seq, audit_chain_heads.c.hash)
    .where(audit_chain_heads.c.tenant_id == bindparam("head_tenant"))
    .with_for_update()
)
_CREATE_HEAD_POSTGRES = (
    postgresql.insert(audit_chain_heads)
    .values(tenant_id=bindparam("head_tenant"), seq=0, hash=GENESIS_HASH)
    .on_conflict_do_nothing()
)
_TAKE_HEAD_SQLITE = (
    sqlite.insert(audit_chain_heads)
    .values(tenant_id=bindparam("head_tenant"), seq=0, hash=GENESIS_HASH)
    .on_conflict_do_update(
        index_elements=[audit_chain_heads.c.tenant_id], set_={"seq": audit_chain_heads.c.seq}
    )
    .returning(audit_chain_heads.c.seq, audit_chain_heads.c.hash)
)
_INSERT_EVENTS = insert(audit_events)
_MOVE_HEAD = (
    update(audit_chain_heads)
    .where(audit_chain_heads.c.tenant_id == bindparam("head_tenant"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


class SqlAuditLog:
    """Implements ``ports.audit.AuditLog`` with group commit.

    ``record`` returns only once its entry is committed, but concurrent callers share transactions: a
    single flusher task takes every pending record, appends each tenant's records in one transaction
    (one head lock, one multi-row insert, one head update) and then wakes their callers. Under load
    this turns N serialised commits into a few, without weakening "recorded before answered".
    """

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._sqlite_lock = asyncio.Lock()
        self._pending: list[tuple[AuditRecord, asyncio.Future[AuditEntry]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def _serialised(self) -> AsyncIterator[None]:
        if self._engine.dialect.name == "sqlite":
            async with self._sqlite_lock:
                yield
        else:
            yield

    async def record(self, record: AuditRecord) -> AuditEntry:
        future: asyncio.Future[AuditEntry] = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # shield: a caller that gives up (request cancelled) must not cancel the shared flush
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            by_tenant: dict[str, list[tuple[AuditRecord, asyncio.Future[AuditEntry]]]] = {}
            for item in batch:
                by_tenant.setdefault(item[0].tenant_id, []).append(item)
            for tenant_id, items in by_tenant.items():
                try:
                    entries = await self._append(tenant_id, [record for record, _ in items])
                except Exception as exc:  # every waiting caller learns that its entry was not written
                    for _, future in items:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), entry in zip(items, entries, strict=True):
                    if not future.done():
                        future.set_result(entry)

    async def _append(self, tenant_id: str, records: list[AuditRecord]) -> list[AuditEntry]:
        async with self._serialised(), SqlUnitOfWork(self._engine, tenant_id) as uow:
            conn = uow.connection
            tenant = {"head_tenant": tenant_id}
            if uow.is_postgres:
                # the row lock serialises appends; the insert is needed only for a tenant's first entry
                head = (await conn.execute(_LOCK_HEAD, tenant)).first()
                if head is None:
                    await conn.execute(_CREATE_HEAD_POSTGRES, tenant)
                    head = (await conn.execute(_LOCK_HEAD, tenant)).one()
            else:
                # one write that creates the head if missing and returns it: this transaction holds the
                # database's write lock before it reads the head (no other process can fork the chain)
                head = (await conn.execute(_TAKE_HEAD_SQLITE, tenant)).one()
            now = self._clock.now().astimezone(UTC)
            entries: list[AuditEntry] = []
            seq, prev_hash = head.seq, head.hash
            for record in records:
                seq += 1
                entry = chain_entry(record, seq=seq, occurred_at=now, prev_hash=prev_hash)
                entries.append(entry)
                prev_hash = entry.hash
            await conn.execute(_INSERT_EVENTS, [_row(entry) for entry in entries])
            await conn.execute(_MOVE_HEAD, {**tenant, "new_seq": seq, "new_hash": prev_hash})
            # in the same transaction: an entry and its event are written together or not at all
            events = [event for entry in entries for event in _events_of(entry)]
            if events:
                await publish(conn, events)
            await uow.commit()
        return entries

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


def _security_event(entry: AuditEntry) -> TenantEvent:
    data = {"action": entry.action, "actor": entry.actor, "outcome": entry.outcome, "target": entry.target}
    return TenantEvent(entry.tenant_id, AUDIT_SECURITY, entry.occurred_at, {**data, "auditSeq": entry.seq})


def _events_of(entry: AuditEntry) -> list[TenantEvent]:
    """The tenant events an entry publishes: a security event, a key or secret lifecycle event, both
    (``key.rotate``) or none."""
    events = [_security_event(entry)] if is_security_action(entry.action, entry.outcome) else []
    lifecycle = lifecycle_type(entry.action, entry.outcome)
    if lifecycle is not None:
        data = {"action": entry.action, "actor": entry.actor, "target": entry.target, "auditSeq": entry.seq}
        events.append(TenantEvent(entry.tenant_id, lifecycle, entry.occurred_at, data))
    return events


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


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "tenant_id": entry.tenant_id,
        "seq": entry.seq,
        "occurred_at": entry.occurred_at,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "request_id": entry.request_id,
        "client_ip": entry.client_ip,
        "details": json.dumps(dict(entry.details), sort_keys=True),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }
