"""The chain scanner's side on SQL (implements ``ports.ChainSourceStore``).

``advance`` moves the cursor with one conditional ``UPDATE ... WHERE block = expected`` first (that
row's lock is held to the commit: a second scanner that read the same block waits, then finds the
cursor moved and writes nothing), checks that the subscriptions seeing the block are those the
scanner read (a subscription created meanwhile: nothing is written, the block is read again; creating
one locks the cursor row, :func:`start_block`), then publishes the block's tenant events with
``publish``, whose per-tenant head lock is taken last, as every producer does. Both commit together or
not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.chain.adapters.sql_support import insert_ignore
from neo_service_layer.kernel.events.adapters import publish
from neo_service_layer.kernel.events.rules import TenantEvent
from neo_service_layer.services.subscriptions.adapters.tables import (
    subscription_chain_cursor,
    subscription_chain_filters,
    subscription_index,
)
from neo_service_layer.services.subscriptions.ports import Watcher

SOURCE = "n3"
C, F, X = subscription_chain_cursor, subscription_chain_filters, subscription_index


def _watching(block: int) -> Any:
    return (
        select(F.c.subscription_id, F.c.tenant_id, F.c.filter, F.c.start_block)
        .join_from(F, X, X.c.subscription_id == F.c.subscription_id)
        .where(F.c.start_block < block)
        .order_by(F.c.subscription_id)
    )


async def start_block(conn: AsyncConnection, head: int) -> int:
    """Where a new chain-filtered subscription starts, on its creating transaction: after ``head`` and
    after the scanner's cursor, whose row it locks until it commits (a scanner moving the cursor
    meanwhile waits, then sees the new subscription and reads that block again)."""
    await insert_ignore(conn, C, {"source": SOURCE, "block": head})
    query = select(C.c.block).where(C.c.source == SOURCE).with_for_update()
    return max(head, int((await conn.execute(query)).scalar_one()))


class SqlChainSourceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def cursor(self, head: int) -> int:
        async with self._engine.begin() as conn:
            await insert_ignore(conn, C, {"source": SOURCE, "block": head})
            return int((await conn.execute(select(C.c.block).where(C.c.source == SOURCE))).scalar_one())

    async def watchers(self, block: int) -> list[Watcher]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_watching(block))).all()
        return [Watcher(r.subscription_id, r.tenant_id, r.filter, int(r.start_block)) for r in rows]

    async def advance(
        self, expected: int, block: int, events: Sequence[TenantEvent], watched: Sequence[str]
    ) -> bool:
        async with self._engine.begin() as conn:
            moved = await conn.execute(
                update(C).where(C.c.source == SOURCE, C.c.block == expected).values(block=block)
            )
            now_watching = [r.subscription_id for r in (await conn.execute(_watching(block))).all()]
            if moved.rowcount != 1 or now_watching != list(watched):
                await conn.rollback()
                return False
            await publish(conn, sorted(events, key=lambda e: e.tenant_id))  # scopes itself per tenant
        return True
