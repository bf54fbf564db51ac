"""Tenants' watches on consumer contracts, and the ``request.*`` events they turn transitions into.

``request_watches`` (no RLS: ids and public chain facts; the chain pipeline reads every tenant's): a
subscription's consumer contract and, optionally, one service. The subscriptions service writes a row
with the subscription and deletes it with it. The pipeline calls :func:`publish_request_events` on the
transaction that moves the requests, so an event exists exactly when its transition committed: a
block applied twice (two watchers, a crash before the commit) moves a request once and publishes once.
Each watching tenant gets one event per transition, however many of its subscriptions watch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.kernel.chain.rules import RequestStatus, Transitioned
from neo_service_layer.kernel.db.tables import metadata
from neo_service_layer.kernel.events.adapters import publish
from neo_service_layer.kernel.events.rules import TenantEvent

request_watches = Table(
    "request_watches",
    metadata,
    Column("subscription_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    #: the consumer contract's script hash as the pipeline stores it (``0x`` + 40 lowercase hex)
    Column("consumer", String(42), nullable=False),
    #: one service (``randomness``, ``oracle``...) or every service (NULL)
    Column("service", String(32), nullable=True),
    PrimaryKeyConstraint("subscription_id", name="pk_request_watches"),
    Index("ix_request_watches_consumer", "consumer"),
)

W = request_watches

#: the event type of each status a request moves to
_TYPES: dict[RequestStatus, str] = {
    RequestStatus.SEEN: "request.seen",
    RequestStatus.FULFILLED: "request.fulfilled",
    RequestStatus.DELIVERED: "request.delivered",
    RequestStatus.CALLBACK_FAILED: "request.callback_failed",
    RequestStatus.FAILED: "request.failed",
}


def request_data(service: str, contract: str, moved: Transitioned) -> dict[str, object]:
    """An event's ``data``: which request, where it is now, and why it failed (if it did)."""
    data: dict[str, object] = {
        "service": service,
        "contract": contract,
        "requestId": moved.request_id,
        "consumer": moved.consumer,
        "status": moved.status.value,
        "requestBlock": moved.request_block,
        "block": moved.block,
        "txHash": moved.tx_hash,
    }
    if moved.reason is not None:
        data["reason"] = moved.reason
    return data


async def publish_request_events(
    conn: AsyncConnection, service: str, contract: str, moved: Sequence[Transitioned], now: datetime
) -> int:
    """Publish, on ``conn``'s transaction, one event per transition per tenant watching its consumer
    (for ``service`` or every service); how many were published. Call it last in the transaction: it
    takes the tenants' outbox locks."""
    consumers = {m.consumer for m in moved if m.consumer is not None and m.status in _TYPES}
    if not consumers:
        return 0
    rows = (
        await conn.execute(
            select(W.c.consumer, W.c.tenant_id)
            .where(W.c.consumer.in_(sorted(consumers)), (W.c.service == service) | W.c.service.is_(None))
            .distinct()
        )
    ).all()
    tenants: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        tenants[row.consumer].add(row.tenant_id)
    events = [
        TenantEvent(tenant, _TYPES[m.status], m.block_time or now, request_data(service, contract, m))
        for m in moved
        if m.status in _TYPES and m.consumer in tenants
        for tenant in sorted(tenants[m.consumer])
    ]
    if events:
        await publish(conn, events)
    return len(events)
