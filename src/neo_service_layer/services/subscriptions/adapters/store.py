"""Subscriptions and their delivery state on SQL (implements ``ports.SubscriptionStore``).

Every read and write of ``subscriptions`` and ``tenant_events`` runs in a transaction scoped to the
tenant (``app.tenant_id`` on PostgreSQL: row-level security applies); the tables without a tenant
policy (index, deliveries) are filtered by ``tenant_id`` in every statement.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.kernel.events.adapters import tenant_event_heads, tenant_events
from neo_service_layer.kernel.events.watches import request_watches
from neo_service_layer.services.subscriptions.adapters.chain_store import start_block
from neo_service_layer.services.subscriptions.adapters.tables import (
    subscription_chain_filters,
    subscription_deliveries,
    subscription_index,
    subscriptions,
)
from neo_service_layer.services.subscriptions.ports import (
    Delivery,
    DeliveryStatus,
    Kind,
    State,
    StoredEvent,
    Subscription,
)
from neo_service_layer.services.subscriptions.use_cases.request_source import filter_of, watched
from neo_service_layer.services.subscriptions.use_cases.transfer_source import (
    is_transfer_filter,
    source_of,
)

S, X, D, E = subscriptions, subscription_index, subscription_deliveries, tenant_events
F = subscription_chain_filters
W = request_watches


#: the transaction's tenant for row-level security (built once: a delivery worker runs it per attempt)
_SET_TENANT = text("SELECT set_config('app.tenant_id', :t, true)")


async def scope(engine: AsyncEngine, conn: AsyncConnection, tenant_id: str) -> None:
    if engine.dialect.name == "postgresql":
        await conn.execute(_SET_TENANT, {"t": tenant_id})


def subscription(row: Any) -> Subscription:
    return Subscription(
        subscription_id=row.subscription_id,
        tenant_id=row.tenant_id,
        name=row.name,
        types=tuple(json.loads(row.types)),
        kind=Kind(row.kind),
        url=row.url,
        state=State(row.state),
        reason=row.reason,
        start_event=int(row.start_event),
        created_at=utc_required(row.created_at),
        previous_until=row.previous_until,
        chain=row.filter,
        start_block=int(row.start_block) if row.start_block is not None else None,
        requests=filter_of(row.consumer, row.service) if row.consumer is not None else None,
        email=row.email,
    )


def watched_contract(stored: str) -> str:
    """The contract a chain-scanned filter reads: a chain filter's contract or a transfer's asset."""
    raw = json.loads(stored)
    return str(raw["asset"] if is_transfer_filter(stored) else raw["contract"])


def stored_event(row: Any) -> StoredEvent:
    return StoredEvent(int(row.event_id), row.type, utc_required(row.occurred_at), row.data)


_COLUMNS = (
    S.c.subscription_id,
    S.c.tenant_id,
    S.c.name,
    S.c.types,
    S.c.kind,
    S.c.url,
    S.c.email,
    S.c.start_event,
    S.c.created_at,
    S.c.previous_until,
    X.c.state,
    X.c.reason,
    F.c.filter,
    F.c.start_block,
    W.c.consumer,
    W.c.service,
)


def _joined() -> Any:
    return (
        select(*_COLUMNS)
        .join_from(S, X, X.c.subscription_id == S.c.subscription_id)
        .join(F, F.c.subscription_id == S.c.subscription_id, isouter=True)
        .join(W, W.c.subscription_id == S.c.subscription_id, isouter=True)
    )


class SqlSubscriptionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def head(self, tenant_id: str) -> int:
        async with self._engine.connect() as conn:
            query = select(tenant_event_heads.c.event_id).where(tenant_event_heads.c.tenant_id == tenant_id)
            value = (await conn.execute(query)).scalar()
        return int(value or 0)

    async def add(self, sub: Subscription, secret_sealed: bytes | None) -> Subscription:
        async with self._engine.begin() as conn:
            await scope(self._engine, conn, sub.tenant_id)
            heads = tenant_event_heads.c
            start = (
                await conn.execute(select(heads.event_id).where(heads.tenant_id == sub.tenant_id))
            ).scalar()
            await conn.execute(
                insert(S).values(
                    subscription_id=sub.subscription_id,
                    tenant_id=sub.tenant_id,
                    name=sub.name,
                    types=json.dumps(list(sub.types)),
                    kind=sub.kind.value,
                    url=sub.url,
                    email=sub.email,
                    secret_sealed=secret_sealed,
                    start_event=int(start or 0),
                    created_at=sub.created_at,
                )
            )
            await conn.execute(
                insert(X).values(
                    subscription_id=sub.subscription_id,
                    tenant_id=sub.tenant_id,
                    kind=sub.kind.value,
                    state=sub.state.value,
                )
            )
            if sub.chain is not None and sub.start_block is not None:
                source = source_of(sub.chain)  # the chain whose scanner reads it
                await conn.execute(
                    insert(F).values(
                        subscription_id=sub.subscription_id,
                        tenant_id=sub.tenant_id,
                        contract=watched_contract(sub.chain),
                        filter=sub.chain,
                        start_block=await start_block(conn, sub.start_block, source),
                        source=source,
                    )
                )
            if sub.requests is not None:
                consumer, service = watched(sub.requests)
                await conn.execute(
                    insert(W).values(
                        subscription_id=sub.subscription_id,
                        tenant_id=sub.tenant_id,
                        consumer=consumer,
                        service=service,
                    )
                )
        found = await self.get(sub.tenant_id, sub.subscription_id)
        assert found is not None
        return found

    async def page(self, tenant_id: str, *, limit: int, after: str | None) -> list[Subscription]:
        query = _joined().where(S.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(S.c.subscription_id > after)
        async with self._engine.begin() as conn:
            await scope(self._engine, conn, tenant_id)
            rows = (await conn.execute(query.order_by(S.c.subscription_id).limit(limit))).all()
        return [subscription(r) for r in rows]

    async def get(self, tenant_id: str, subscription_id: str) -> Subscription | None:
        query = _joined().where(S.c.tenant_id == tenant_id, S.c.subscription_id == subscription_id)
        async with self._engine.begin() as conn:
            await scope(self._engine, conn, tenant_id)
            row = (await conn.execute(query)).first()
        return subscription(row) if row is not None else None

    async def delete(self, tenant_id: str, subscription_id: str) -> bool:
        async with self._engine.begin() as conn:
            await scope(self._engine, conn, tenant_id)
            mine = and_(X.c.tenant_id == tenant_id, X.c.subscription_id == subscription_id)
            gone = await conn.execute(delete(X).where(mine))
            if not gone.rowcount:
                return False
            await conn.execute(
                delete(S).where(S.c.tenant_id == tenant_id, S.c.subscription_id == subscription_id)
            )
            await conn.execute(
                delete(D).where(D.c.tenant_id == tenant_id, D.c.subscription_id == subscription_id)
            )
            await conn.execute(
                delete(F).where(F.c.tenant_id == tenant_id, F.c.subscription_id == subscription_id)
            )
            await conn.execute(
                delete(W).where(W.c.tenant_id == tenant_id, W.c.subscription_id == subscription_id)
            )
        return True

    async def set_state(self, tenant_id: str, subscription_id: str, state: State, reason: str | None) -> bool:
        async with self._engine.begin() as conn:
            mine = and_(X.c.tenant_id == tenant_id, X.c.subscription_id == subscription_id)
            result = await conn.execute(update(X).where(mine).values(state=state.value, reason=reason))
        return bool(result.rowcount)

    async def rotate(self, tenant_id: str, subscription_id: str, sealed: bytes, previous_until: int) -> bool:
        mine = and_(
            S.c.tenant_id == tenant_id,
            S.c.subscription_id == subscription_id,
            S.c.kind.in_((Kind.WEBHOOK.value, Kind.EMAIL.value)),
        )
        async with self._engine.begin() as conn:
            await scope(self._engine, conn, tenant_id)
            result = await conn.execute(
                update(S)
                .where(mine)
                .values(
                    previous_sealed=S.c.secret_sealed, previous_until=previous_until, secret_sealed=sealed
                )
            )
        return bool(result.rowcount)

    async def counts(self, tenant_id: str, subscription_id: str) -> dict[str, int]:
        query = (
            select(D.c.status, func.count())
            .where(D.c.tenant_id == tenant_id, D.c.subscription_id == subscription_id)
            .group_by(D.c.status)
        )
        async with self._engine.connect() as conn:
            return {str(status): int(n) for status, n in (await conn.execute(query)).all()}

    async def deliveries(
        self, tenant_id: str, subscription_id: str, status: DeliveryStatus | None, limit: int
    ) -> list[Delivery]:
        query = select(D).where(D.c.tenant_id == tenant_id, D.c.subscription_id == subscription_id)
        if status is not None:
            query = query.where(D.c.status == status.value)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(D.c.event_id.desc()).limit(limit))).all()
        return [
            Delivery(
                event_id=int(r.event_id),
                status=DeliveryStatus(r.status),
                attempts=int(r.attempts),
                last_status=r.last_status,
                last_error=r.last_error,
                next_at=float(r.next_at) if r.status == DeliveryStatus.PENDING.value else None,
                finished_at=utc(r.finished_at) if r.finished_at is not None else None,
            )
            for r in rows
        ]

    async def replay(self, tenant_id: str, subscription_id: str, event_id: int, now: float) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(D)
                .where(
                    D.c.tenant_id == tenant_id,
                    D.c.subscription_id == subscription_id,
                    D.c.event_id == event_id,
                    D.c.status == DeliveryStatus.DEAD.value,
                )
                .values(
                    status=DeliveryStatus.PENDING.value,
                    attempts=0,
                    first_attempt_at=None,
                    next_at=now,
                    worker=None,
                    lease_until=None,
                    finished_at=None,
                )
            )
        return bool(result.rowcount)

    async def events_after(self, tenant_id: str, after: int, limit: int) -> list[StoredEvent]:
        query = (
            select(E.c.event_id, E.c.type, E.c.occurred_at, E.c.data)
            .where(E.c.tenant_id == tenant_id, E.c.event_id > after)
            .order_by(E.c.event_id)
            .limit(limit)
        )
        async with self._engine.begin() as conn:
            await scope(self._engine, conn, tenant_id)
            rows = (await conn.execute(query)).all()
        return [stored_event(r) for r in rows]
