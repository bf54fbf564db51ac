"""The bus dispatcher's side on SQL (implements ``ports.DispatchStore``): which subscriptions' heads get
a message, marked so that no second message goes out while one is on the bus.

A dispatched head keeps ``status = pending``; its ``worker`` is ``DISPATCHED`` and its ``lease_until``
the dispatch lease. A consumer's claim takes such a head (``SqlDeliveryStore.claim_head``); a polling
claim or another dispatch does not until the lease runs out (the message was lost: dispatched again).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.services.subscriptions.adapters.delivery_store import (
    D2,
    DISPATCHED,
    PENDING,
    due_heads_query,
)
from neo_service_layer.services.subscriptions.adapters.store import D


class SqlDispatchStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def dispatch(self, now: float, lease_until: float, limit: int) -> list[tuple[str, int]]:
        free = or_(D.c.lease_until.is_(None), D.c.lease_until < now)
        due = due_heads_query(now, limit)
        still_head = (
            select(func.min(D2.c.event_id))
            .where(D2.c.subscription_id == D.c.subscription_id, D2.c.status == PENDING)
            .scalar_subquery()
        )
        async with self._engine.begin() as conn:
            pairs = [(r.subscription_id, int(r.event_id)) for r in (await conn.execute(due)).all()]
            if not pairs:
                return []
            marked = (
                await conn.execute(
                    update(D)
                    .where(
                        tuple_(D.c.subscription_id, D.c.event_id).in_(pairs),
                        D.c.status == PENDING,
                        D.c.next_at <= now,
                        free,
                        D.c.event_id == still_head,
                    )
                    .values(worker=DISPATCHED, lease_until=lease_until)
                    .returning(D.c.subscription_id, D.c.event_id)
                )
            ).all()
        order = {pair: i for i, pair in enumerate(pairs)}
        return sorted(((r.subscription_id, int(r.event_id)) for r in marked), key=lambda p: order[p])

    async def release(self, heads: Sequence[tuple[str, int]]) -> None:
        if not heads:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                update(D)
                .where(
                    tuple_(D.c.subscription_id, D.c.event_id).in_(list(heads)),
                    D.c.status == PENDING,
                    D.c.worker == DISPATCHED,
                )
                .values(worker=None, lease_until=None)
            )
