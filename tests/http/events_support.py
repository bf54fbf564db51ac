"""Reading a tenant's outbox events in tests, as that tenant (row-level security on PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.events.adapters import tenant_events


async def outbox_of(container: Container, tenant_id: str) -> list[tuple[int, str, dict[str, Any]]]:
    """The tenant's events, in id order: (id, type, data)."""
    return await events_of(container.engine, tenant_id)


async def events_of(engine: AsyncEngine, tenant_id: str) -> list[tuple[int, str, dict[str, Any]]]:
    """``outbox_of`` with the database's engine."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})
        rows = (
            await conn.execute(
                select(tenant_events.c.event_id, tenant_events.c.type, tenant_events.c.data)
                .where(tenant_events.c.tenant_id == tenant_id)
                .order_by(tenant_events.c.event_id)
            )
        ).all()
    return [(int(r.event_id), r.type, json.loads(r.data)) for r in rows]
