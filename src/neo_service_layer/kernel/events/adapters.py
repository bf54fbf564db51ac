"""The tenant event outbox on SQL: ``publish`` writes on the caller's open transaction.

- ``tenant_events`` (tenant data, row-level security): ``(tenant_id, event_id)``, type, time, JSON data;
- ``tenant_event_heads`` (no RLS: a counter per tenant): the tenant's last event id.

``publish`` moves the tenant's head with one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` that
holds the head row's lock until the producer commits, so a tenant's event ids are given in commit order
without gaps: a reader that saw id ``n`` never later finds a committed id below ``n`` it has not seen
(what makes ``Last-Event-ID`` resumption and the relay's cursor exact). A rolled-back producer leaves
nothing: neither its events nor its head move. On PostgreSQL it also notifies ``EVENTS_CHANNEL``
for each tenant (delivered at commit, one per tenant and transaction), which wakes the worker's relay
and the tenant's event streams. Take this lock last in a transaction (every producer does), so two
producers never wait on each other in opposite orders.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import BigInteger, Column, DateTime, PrimaryKeyConstraint, String, Table, Text, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.kernel.db.tables import metadata
from neo_service_layer.kernel.events.rules import TenantEvent

#: the channel ``publish`` notifies on PostgreSQL, the tenant's id as the payload (``kernel.events.listener``)
EVENTS_CHANNEL = "nsl_tenant_events"
NOTIFY = text("SELECT pg_notify(:channel, :tenant)")

tenant_events = Table(
    "tenant_events",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "event_id", name="pk_tenant_events"),
)

tenant_event_heads = Table(
    "tenant_event_heads",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("event_id", BigInteger, nullable=False),
)


async def _take_ids(conn: AsyncConnection, tenant_id: str, count: int) -> int:
    """Reserve ``count`` ids for the tenant; the last one (the row stays locked until commit)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    heads = tenant_event_heads
    statement = (
        dialect.insert(heads)
        .values(tenant_id=tenant_id, event_id=count)
        .on_conflict_do_update(
            index_elements=[heads.c.tenant_id], set_={"event_id": heads.c.event_id + count}
        )
        .returning(heads.c.event_id)
    )
    return int((await conn.execute(statement)).scalar_one())


async def publish(conn: AsyncConnection, events: Sequence[TenantEvent]) -> list[int]:
    """Write ``events`` on ``conn``'s transaction (the producer's); their ids, in order.

    On PostgreSQL it scopes the transaction to each event's tenant in turn (``app.tenant_id``, local
    to the transaction): a producer that is not tenant-scoped (the chain pipeline, the scanner) can
    publish for several tenants, and the transaction stays scoped to the last one: publish last."""
    by_tenant: dict[str, list[TenantEvent]] = {}
    for event in events:
        by_tenant.setdefault(event.tenant_id, []).append(event)
    ids: dict[int, int] = {}
    for tenant_id, mine in by_tenant.items():
        if conn.dialect.name == "postgresql":  # the outbox is tenant data (RLS): write as that tenant
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})
        last = await _take_ids(conn, tenant_id, len(mine))
        rows = []
        for offset, event in enumerate(mine):
            event_id = last - len(mine) + 1 + offset
            ids[id(event)] = event_id
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "event_id": event_id,
                    "type": event.type,
                    "occurred_at": event.occurred_at,
                    "data": json.dumps(dict(event.data), sort_keys=True, separators=(",", ":")),
                }
            )
        await conn.execute(insert(tenant_events), rows)
    if conn.dialect.name == "postgresql":  # delivered at commit: the worker and the streams wake at once
        for tenant_id in by_tenant:
            await conn.execute(NOTIFY, {"channel": EVENTS_CHANNEL, "tenant": tenant_id})
    return [ids[id(event)] for event in events]
