"""One service's on-chain requests over SQLAlchemy Core (SQLite or PostgreSQL): events, leases, answers.

The pipeline's facts live in ``chain_requests``; the service's payloads (what was asked, what was
answered) in its own table, written by the ``RequestPayloads`` it hands in, in the same transactions.

Concurrency between worker processes on one database:

- Events are idempotent (``adapters.request_events``): inserts ignore duplicates, status moves are
  conditional, the cursor never goes back.
- Claiming: one ``UPDATE ... WHERE key IN (SELECT ... LIMIT n) RETURNING`` that sets a lease. On
  PostgreSQL the sub-select takes ``FOR UPDATE SKIP LOCKED`` so concurrent claimers take disjoint rows
  without waiting; on SQLite the database's single writer serialises claimers, and the lease condition in
  the outer ``WHERE`` is re-checked by the winner.
- Writing the outbox re-checks the lease in the same transaction that stores the signed transaction
  (``adapters.outbox_writes``), so a worker whose lease ran out never records (nor sends) a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.outbox_store import SqlOutboxStore
from neo_service_layer.kernel.chain.adapters.outbox_writes import LeaseMoved, write_leased, write_leased_batch
from neo_service_layer.kernel.chain.adapters.payloads import RequestPayloads
from neo_service_layer.kernel.chain.adapters.request_events import (
    advance_cursor,
    apply_updates,
    insert_new,
    reopen_from,
)
from neo_service_layer.kernel.chain.adapters.sql_support import chain_request
from neo_service_layer.kernel.chain.adapters.tables import chain_cursors, chain_requests
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import (
    ChainRequest,
    Fulfilment,
    NewRequest,
    RequestStatus,
    RequestUpdate,
    Transitioned,
)
from neo_service_layer.kernel.db.timestamps import utc
from neo_service_layer.kernel.events.watches import publish_request_events

R = chain_requests

#: why a request is failed when claimed: its service's table has no row for it (a damaged database)
NO_PAYLOAD = "the service's record of what this request asked is missing"


class SqlRequestStore[Q, A](SqlOutboxStore):
    """Implements ``ports.request_store.RequestStore`` for the service whose ``payloads`` are given."""

    def __init__(self, engine: AsyncEngine, payloads: RequestPayloads[Q, A]) -> None:
        super().__init__(engine)
        self._payloads = payloads

    async def cursor(self, name: str) -> int | None:
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(select(chain_cursors.c.block_index).where(chain_cursors.c.name == name))
            ).scalar()
        return int(value) if value is not None else None

    async def apply_block(
        self,
        cursor_name: str,
        service: str,
        contract: str,
        block: int,
        block_time: datetime | None,
        new: Sequence[NewRequest[Q]],
        updates: Sequence[RequestUpdate],
        now: datetime,
    ) -> list[Transitioned]:
        """Store a block's events and move the cursor to ``block``, all in one transaction."""
        async with self._engine.begin() as conn:
            fresh = await insert_new(conn, self._payloads, service, contract, new, block_time, now)
            transitions = [
                Transitioned(
                    req.request_id,
                    RequestStatus.SEEN,
                    req.block,
                    block,
                    block_time,
                    block_time,
                    consumer=req.consumer,
                    tx_hash=req.tx_hash,
                )
                for req in fresh
            ]
            transitions += await apply_updates(conn, service, contract, updates, block_time, now)
            await advance_cursor(conn, cursor_name, block, now)
            await publish_request_events(conn, service, contract, transitions, now)
        return transitions

    async def reopen_from(self, service: str, contract: str, block: int, now: datetime) -> int:
        async with self._engine.begin() as conn:
            return await reopen_from(conn, service, contract, block, now)

    # Claiming -----------------------------------------------------------------------------------

    async def claim(
        self, service: str, contract: str, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[ChainRequest[Q, A]]:
        """Lease up to ``limit`` SEEN requests whose lease is free or ran out; oldest first.

        A request whose payload row is missing can never be answered: it is marked failed in the same
        transaction instead of being returned (and claimed again after every lease).
        """
        free = or_(R.c.lease_until.is_(None), R.c.lease_until <= now)
        mine = and_(R.c.service == service, R.c.contract == contract, R.c.status == RequestStatus.SEEN.value)
        candidates = (
            select(R.c.service, R.c.contract, R.c.request_id)
            .where(mine, free)
            .order_by(R.c.request_block, R.c.request_id)
            .limit(limit)
        )
        if self._engine.dialect.name == "postgresql":
            # A materialised CTE: PostgreSQL may otherwise re-run a LIMIT subquery inside UPDATE ... IN
            # and lease more than ``limit`` rows.
            candidates = candidates.with_for_update(skip_locked=True)
            picked = candidates.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
            chosen: Any = select(picked.c.service, picked.c.contract, picked.c.request_id)
        else:
            chosen = candidates
        statement = (
            update(R)
            .where(tuple_(R.c.service, R.c.contract, R.c.request_id).in_(chosen), mine, free)
            .values(lease_owner=worker, lease_until=until, updated_at=now)
            .returning(*R.c)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(statement)).all()
            found = await self._payloads.read(conn, contract, [int(r.request_id) for r in rows])
            missing = [int(r.request_id) for r in rows if int(r.request_id) not in found]
            if missing:
                await conn.execute(
                    update(R)
                    .where(R.c.service == service, R.c.contract == contract, R.c.request_id.in_(missing))
                    .values(
                        status=RequestStatus.FAILED.value,
                        failure_reason=NO_PAYLOAD,
                        lease_owner=None,
                        lease_until=None,
                        updated_at=now,
                    )
                )
        claimed = [chain_request(r, *found[int(r.request_id)]) for r in rows if int(r.request_id) in found]
        return sorted(claimed, key=lambda r: (r.request_block, r.request_id))

    async def release(self, service: str, contract: str, worker: str, request_ids: Sequence[int]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(R)
                .where(
                    R.c.service == service,
                    R.c.contract == contract,
                    R.c.request_id.in_(list(request_ids)),
                    R.c.lease_owner == worker,
                )
                .values(lease_owner=None, lease_until=None)
            )

    async def renew(
        self, service: str, contract: str, worker: str, request_ids: Sequence[int], until: datetime
    ) -> set[int]:
        """Move ``worker``'s leases to ``until``; one conditional ``UPDATE ... RETURNING``, so a request
        another worker claimed meanwhile (its ``lease_owner`` changed) is never taken back."""
        if not request_ids:
            return set()
        async with self._engine.begin() as conn:
            rows = await conn.execute(
                update(R)
                .where(
                    R.c.service == service,
                    R.c.contract == contract,
                    R.c.request_id.in_(list(request_ids)),
                    R.c.status == RequestStatus.SEEN.value,
                    R.c.lease_owner == worker,
                )
                .values(lease_until=until)
                .returning(R.c.request_id)
            )
            return {int(i) for i in rows.scalars()}

    async def mark_failed(
        self, service: str, contract: str, worker: str, request_id: int, reason: str, now: datetime
    ) -> bool:
        """SEEN -> FAILED (the fulfilment's dry-run faulted; nothing was sent)."""
        async with self._engine.begin() as conn:
            failed = await conn.execute(
                update(R)
                .where(
                    R.c.service == service,
                    R.c.contract == contract,
                    R.c.request_id == request_id,
                    R.c.status == RequestStatus.SEEN.value,
                    R.c.lease_owner == worker,
                )
                .values(
                    status=RequestStatus.FAILED.value,
                    failure_reason=reason,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
                .returning(R.c.request_block, R.c.request_time, R.c.request_tx, R.c.consumer)
            )
            row = failed.first()
            if row is None:
                return False
            moved = Transitioned(
                request_id,
                RequestStatus.FAILED,
                int(row.request_block),
                int(row.request_block),
                utc(row.request_time),
                None,
                consumer=row.consumer,
                tx_hash=row.request_tx,
                reason=reason,
            )
            await publish_request_events(conn, service, contract, [moved], now)
        return True

    # Outbox -------------------------------------------------------------------------------------

    async def write_outbox(
        self,
        service: str,
        contract: str,
        worker: str,
        now: datetime,
        tx: SignedTransaction,
        fulfilments: Sequence[Fulfilment[A]],
    ) -> bool:
        """Record the signed transaction and its answers and move its requests to FULFILLING, if the
        lease still holds; False (and nothing changed) when any request is no longer leased by ``worker``.
        """
        async with self._engine.begin() as conn:
            if not await write_leased(conn, self._payloads, service, contract, worker, now, tx, fulfilments):
                await conn.rollback()
                return False
        return True

    async def write_outboxes(
        self,
        service: str,
        contract: str,
        worker: str,
        now: datetime,
        items: Sequence[tuple[SignedTransaction, Sequence[Fulfilment[A]]]],
    ) -> list[bool]:
        """``write_outbox`` for many transactions in one database transaction (a burst of answers).

        When a lease moved under the batch (SQLite, see ``outbox_writes``) it is written item by item.
        """
        try:
            async with self._engine.begin() as conn:
                return await write_leased_batch(conn, self._payloads, service, contract, worker, now, items)
        except LeaseMoved:
            return [await self.write_outbox(service, contract, worker, now, tx, f) for tx, f in items]

    # Reading ------------------------------------------------------------------------------------

    async def get(self, service: str, contract: str, request_id: int) -> ChainRequest[Q, A] | None:
        """The request and its payload; ``None`` when unknown (or its payload row is missing)."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(R).where(
                        R.c.service == service, R.c.contract == contract, R.c.request_id == request_id
                    )
                )
            ).first()
            found = await self._payloads.read(conn, contract, [request_id]) if row is not None else {}
        if row is None or request_id not in found:
            return None
        return chain_request(row, *found[request_id])

    async def count_by_status(self, service: str, contract: str) -> dict[RequestStatus, int]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(R.c.status, func.count())
                    .where(R.c.service == service, R.c.contract == contract)
                    .group_by(R.c.status)
                )
            ).all()
        return {RequestStatus(status): int(n) for status, n in rows}
