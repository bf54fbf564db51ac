"""The chain scanner's side on SQL (implements ``ports.ChainSourceStore``).

``advance`` moves the cursor with one conditional ``UPDATE ... WHERE block = expected`` first (that
row's lock is held to the commit: a second scanner that read the same block waits, then finds the
cursor moved and writes nothing), checks that the subscriptions seeing the block are those the
scanner read (a subscription created meanwhile: nothing is written, the block is read again; creating
one locks the cursor row, :func:`start_block`), then publishes the block's tenant events with
``publish``, whose per-tenant head lock is taken last, as every producer does. Both commit together or
not at all.

Each chain has its own scanner, cursor row and watches: ``source`` is ``n3`` or ``neox`` (a filter's
``source`` column, the cursor's key), so the N3 scanner never reads a Neo X watch and the other way.
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
from neo_service_layer.services.subscriptions.use_cases.transfer_source import N3

C, F, X = subscription_chain_cursor, subscription_chain_filters, subscription_index


def _watching(source: str, block: int) -> Any:
    return (
        select(F.c.subscription_id, F.c.tenant_id, F.c.filter, F.c.start_block)
        .join_from(F, X, X.c.subscription_id == F.c.subscription_id)
        .where(F.c.source == source, F.c.start_block < block)
        .order_by(F.c.subscription_id)
    )


async def start_block(conn: AsyncConnection, head: int, source: str = N3) -> int:
    """Where a new chain-filtered subscription starts, on its creating transaction: after ``head`` and
    after its chain's scanner's cursor, whose row it locks until it commits (a scanner moving the cursor
    meanwhile waits, then sees the new subscription and reads that block again)."""
    await insert_ignore(conn, C, {"source": source, "block": head})
    query = select(C.c.block).where(C.c.source == source).with_for_update()
    return max(head, int((await conn.execute(query)).scalar_one()))


class SqlChainSourceStore:
    """One chain's side (``source``: ``n3`` or ``neox``)."""

    def __init__(self, engine: AsyncEngine, source: str = N3) -> None:
        self._engine = engine
        self._source = source

    async def cursor(self, head: int) -> int:
        async with self._engine.begin() as conn:
            await insert_ignore(conn, C, {"source": self._source, "block": head})
            query = select(C.c.block).where(C.c.source == self._source)
            return int((await conn.execute(query)).scalar_one())

    async def watchers(self, block: int) -> list[Watcher]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_watching(self._source, block))).all()
        return [Watcher(r.subscription_id, r.tenant_id, r.filter, int(r.start_block)) for r in rows]

    async def advance(
        self, expected: int, block: int, events: Sequence[TenantEvent], watched: Sequence[str]
    ) -> bool:
        async with self._engine.begin() as conn:
            moved = await conn.execute(
                update(C).where(C.c.source == self._source, C.c.block == expected).values(block=block)
            )
            watching = _watching(self._source, block)
            now_watching = [r.subscription_id for r in (await conn.execute(watching)).all()]
            if moved.rowcount != 1 or now_watching != list(watched):
                await conn.rollback()
                return False
            await publish(conn, sorted(events, key=lambda e: e.tenant_id))  # scopes itself per tenant
        return True
