"""The clean-up's deletes on SQL (implements ``ports.EventJanitor``): each under the tenant's scope
(``tenant_events`` is tenant data with row-level security), each a bounded batch by primary key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.events.adapters import tenant_event_heads
from neo_service_layer.services.subscriptions.adapters.store import D, E, scope
from neo_service_layer.services.subscriptions.adapters.tables import subscription_relay_cursors
from neo_service_layer.services.subscriptions.ports import DeliveryStatus

C = subscription_relay_cursors
FINISHED = (DeliveryStatus.DELIVERED.value, DeliveryStatus.DEAD.value)


class SqlEventJanitor:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def tenants(self) -> list[str]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(tenant_event_heads.c.tenant_id).order_by("tenant_id"))
            return [str(t) for t in rows.scalars()]

    async def delete_finished(self, tenant_id: str, before: datetime, limit: int) -> int:
        old = (
            select(D.c.subscription_id, D.c.event_id)
            .where(D.c.tenant_id == tenant_id, D.c.status.in_(FINISHED), D.c.finished_at < before)
            .limit(limit)
        )
        deleted = 0
        async with self._engine.begin() as conn:
            for row in (await conn.execute(old)).all():
                result = await conn.execute(
                    delete(D).where(
                        D.c.subscription_id == row.subscription_id,
                        D.c.event_id == row.event_id,
                        D.c.status.in_(FINISHED),  # a dead letter replayed meanwhile stays
                    )
                )
                deleted += int(result.rowcount or 0)
        return deleted

    async def delete_events(self, tenant_id: str, before: datetime, limit: int) -> int:
        async with self._engine.begin() as conn:
            await scope(self._engine, conn, tenant_id)
            cursor = (await conn.execute(select(C.c.event_id).where(C.c.tenant_id == tenant_id))).scalar()
            needed = (
                await conn.execute(select(func.min(D.c.event_id)).where(D.c.tenant_id == tenant_id))
            ).scalar()
            below = min(int(cursor or 0) + 1, int(needed) if needed is not None else 2**62)
            old = (
                select(E.c.event_id)
                .where(E.c.tenant_id == tenant_id, E.c.event_id < below, E.c.occurred_at < before)
                .order_by(E.c.event_id)
                .limit(limit)
            )
            ids = [int(i) for i in (await conn.execute(old)).scalars()]
            if not ids:
                return 0
            result = await conn.execute(delete(E).where(E.c.tenant_id == tenant_id, E.c.event_id.in_(ids)))
        return int(result.rowcount or 0)
