"""Persistence of the chain machinery: cursors, requests (idempotent, leased), outbox, service keys.

Concurrency between worker processes on one database:

- Request rows are inserted with ``ON CONFLICT DO NOTHING`` on (service, contract, request id), so two
  watchers reading the same block store each request once.
- Status changes are conditional updates (``WHERE status IN (...)``); only the update that changed a row
  reports a transition, so metrics count each request once however many workers saw the event.
- Claiming: one ``UPDATE ... WHERE key IN (SELECT ... LIMIT n) RETURNING`` that sets a lease. On
  PostgreSQL the sub-select takes ``FOR UPDATE SKIP LOCKED`` so concurrent claimers take disjoint rows
  without waiting; on SQLite the database's single writer serialises claimers, and the lease condition in
  the outer ``WHERE`` is re-checked by the winner.
- Writing the outbox re-checks the lease in the same transaction that stores the signed transaction, so a
  worker whose lease ran out never records (and therefore never sends) a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.chain.adapters.tables import (
    chain_cursors,
    chain_outbox,
    chain_requests,
    chain_service_keys,
)
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    ChainRequest,
    Fulfilment,
    NewRequest,
    OutboxEntry,
    RequestStatus,
    RequestUpdate,
    Transitioned,
    sources_of,
)
from neo_service_layer.kernel.db.timestamps import utc
from neo_service_layer.services.keys.adapters.tables import key_sealed_records

R = chain_requests
O = chain_outbox  # noqa: E741


class _LeaseMoved(Exception):
    """A batched outbox write found a lease gone between reading it and updating (SQLite only)."""


#: one request of a batched outbox write: SEEN and still leased -> FULFILLING with its transaction
_FULFILLING = (
    update(R)
    .where(
        R.c.service == bindparam("b_service"),
        R.c.contract == bindparam("b_contract"),
        R.c.request_id == bindparam("b_id"),
        R.c.status == RequestStatus.SEEN.value,
        R.c.lease_owner == bindparam("b_worker"),
    )
    .values(
        status=RequestStatus.FULFILLING.value,
        tx_hash=bindparam("b_tx"),
        with_delivery=bindparam("b_delivery"),
        output=bindparam("b_output"),
        proof=bindparam("b_proof"),
        callback_failure=bindparam("b_failure"),
        attempts=R.c.attempts + 1,
    )
)


def _request(row: Any) -> ChainRequest:
    return ChainRequest(
        service=row.service,
        contract=row.contract,
        request_id=int(row.request_id),
        consumer=row.consumer,
        num_words=int(row.num_words),
        seed=bytes(row.seed),
        request_block=int(row.request_block),
        request_tx=row.request_tx,
        status=RequestStatus(row.status),
        attempts=int(row.attempts),
        tx_hash=row.tx_hash,
        with_delivery=row.with_delivery,
        output=bytes(row.output) if row.output is not None else None,
        proof=bytes(row.proof) if row.proof is not None else None,
        fulfilled_block=row.fulfilled_block,
        fulfilled_tx=row.fulfilled_tx,
        delivered_block=row.delivered_block,
        failure_reason=row.failure_reason,
        callback_failure=row.callback_failure,
        seen_at=utc(row.seen_at),
    )


_TARGETS: dict[ChainEventKind, RequestStatus] = {
    ChainEventKind.FULFILLED: RequestStatus.FULFILLED,
    ChainEventKind.DELIVERED: RequestStatus.DELIVERED,
    ChainEventKind.CALLBACK_FAILED: RequestStatus.CALLBACK_FAILED,
}


class ChainStore:
    """Implements ``ports.chain_store.ChainStore`` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    # Cursor and events --------------------------------------------------------------------------

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
        new: Sequence[NewRequest],
        updates: Sequence[RequestUpdate],
        now: datetime,
    ) -> list[Transitioned]:
        """Store a block's events and move the cursor to ``block``, all in one transaction."""
        transitions: list[Transitioned] = []
        async with self._engine.begin() as conn:
            for req in new:
                inserted = await self._insert_ignore(
                    conn,
                    R,
                    {
                        "service": service,
                        "contract": contract,
                        "request_id": req.request_id,
                        "consumer": req.consumer,
                        "num_words": req.num_words,
                        "seed": req.seed,
                        "request_block": req.block,
                        "request_tx": req.tx_hash,
                        "request_time": block_time,
                        "seen_at": now,
                        "status": RequestStatus.SEEN.value,
                        "attempts": 0,
                        "updated_at": now,
                    },
                )
                if inserted:
                    transitions.append(
                        Transitioned(
                            req.request_id, RequestStatus.SEEN, req.block, block, block_time, block_time
                        )
                    )
            for upd in updates:
                moved = await self._apply_update(conn, service, contract, upd, block_time, now)
                if moved is not None:
                    transitions.append(moved)
            await self._advance(conn, cursor_name, block, now)
        return transitions

    async def _apply_update(
        self,
        conn: AsyncConnection,
        service: str,
        contract: str,
        upd: RequestUpdate,
        block_time: datetime | None,
        now: datetime,
    ) -> Transitioned | None:
        target = _TARGETS[upd.kind]
        sources = sources_of(upd.kind, target)
        values: dict[str, Any] = {
            "status": target.value,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
        }
        if upd.kind is ChainEventKind.FULFILLED:
            values |= {
                "fulfilled_block": upd.block,
                "fulfilled_tx": upd.tx_hash,
                "fulfilled_time": block_time,
            }
        elif upd.kind is ChainEventKind.DELIVERED:
            values |= {"delivered_block": upd.block}
        else:
            values |= {"callback_failure": upd.reason}
        key = and_(R.c.service == service, R.c.contract == contract, R.c.request_id == upd.request_id)
        result = await conn.execute(
            update(R)
            .where(key, R.c.status.in_([s.value for s in sources]))
            .values(**values)
            .returning(R.c.request_block, R.c.request_time)
        )
        row = result.first()
        if upd.kind is ChainEventKind.FULFILLED:  # our outbox transaction (if it was ours) is in
            await conn.execute(
                update(O)
                .where(O.c.tx_hash == upd.tx_hash, O.c.status == "pending")
                .values(status="included", included_block=upd.block)
            )
        if row is None:
            return None
        return Transitioned(
            upd.request_id, target, int(row.request_block), upd.block, utc(row.request_time), block_time
        )

    async def _advance(self, conn: AsyncConnection, name: str, block: int, now: datetime) -> None:
        moved = await conn.execute(
            update(chain_cursors)
            .where(chain_cursors.c.name == name, chain_cursors.c.block_index < block)
            .values(block_index=block, updated_at=now)
        )
        if moved.rowcount == 0:
            await self._insert_ignore(
                conn, chain_cursors, {"name": name, "block_index": block, "updated_at": now}
            )

    async def _insert_ignore(self, conn: AsyncConnection, table: Any, values: dict[str, Any]) -> bool:
        dialect = postgresql if self._postgres else sqlite
        statement = dialect.insert(table).values(**values).on_conflict_do_nothing()
        result = await conn.execute(statement)
        return bool(result.rowcount)

    # Claiming -----------------------------------------------------------------------------------

    async def claim(
        self, service: str, contract: str, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[ChainRequest]:
        """Lease up to ``limit`` SEEN requests whose lease is free or ran out; oldest first."""
        free = or_(R.c.lease_until.is_(None), R.c.lease_until <= now)
        mine = and_(R.c.service == service, R.c.contract == contract, R.c.status == RequestStatus.SEEN.value)
        candidates = (
            select(R.c.service, R.c.contract, R.c.request_id)
            .where(mine, free)
            .order_by(R.c.request_block, R.c.request_id)
            .limit(limit)
        )
        if self._postgres:
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
        return sorted((_request(r) for r in rows), key=lambda r: (r.request_block, r.request_id))

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

    # Outbox -------------------------------------------------------------------------------------

    async def write_outbox(
        self,
        service: str,
        contract: str,
        worker: str,
        now: datetime,
        tx: SignedTransaction,
        fulfilments: Sequence[Fulfilment],
    ) -> bool:
        """Record the signed transaction and move its requests to FULFILLING, if the lease still holds.

        Returns False (and changes nothing) when any request is no longer leased by ``worker``.
        """
        async with self._engine.begin() as conn:
            for f in fulfilments:
                result = await conn.execute(
                    update(R)
                    .where(
                        R.c.service == service,
                        R.c.contract == contract,
                        R.c.request_id == f.request_id,
                        R.c.status == RequestStatus.SEEN.value,
                        R.c.lease_owner == worker,
                        R.c.lease_until > now,
                    )
                    .values(
                        status=RequestStatus.FULFILLING.value,
                        tx_hash=tx.tx_hash,
                        with_delivery=f.with_delivery,
                        output=f.output,
                        proof=f.proof,
                        callback_failure=f.callback_failure,
                        attempts=R.c.attempts + 1,
                        updated_at=now,
                    )
                )
                if result.rowcount != 1:
                    await conn.rollback()
                    return False
            await conn.execute(
                insert(O).values(
                    tx_hash=tx.tx_hash,
                    service=service,
                    raw=tx.raw,
                    valid_until_block=tx.valid_until_block,
                    system_fee=tx.system_fee,
                    network_fee=tx.network_fee,
                    status="pending",
                    send_count=0,
                    created_at=now,
                )
            )
        return True

    async def write_outboxes(
        self,
        service: str,
        contract: str,
        worker: str,
        now: datetime,
        items: Sequence[tuple[SignedTransaction, Sequence[Fulfilment]]],
    ) -> list[bool]:
        """``write_outbox`` for many transactions in one database transaction (a burst of answers).

        The leases are read first (``FOR UPDATE`` on PostgreSQL, so they cannot move until commit); an
        item whose requests are not all still leased by ``worker`` (or were taken by an earlier item) is
        skipped (``False``), as ``write_outbox`` called item by item would. On SQLite a lease that ran
        out and was taken between that read and the updates shows in the row count: the batch is rolled
        back and written item by item instead.
        """
        ids = [f.request_id for _, fulfilments in items for f in fulfilments]
        try:
            async with self._engine.begin() as conn:
                held_query = select(R.c.request_id).where(
                    R.c.service == service,
                    R.c.contract == contract,
                    R.c.request_id.in_(ids),
                    R.c.status == RequestStatus.SEEN.value,
                    R.c.lease_owner == worker,
                    R.c.lease_until > now,
                )
                if conn.dialect.name == "postgresql":
                    held_query = held_query.with_for_update()
                held = {int(i) for i in (await conn.execute(held_query)).scalars()}
                written = []
                for _, fulfilments in items:  # a request is taken by the first item that holds it
                    mine = {f.request_id for f in fulfilments}
                    written.append(mine <= held)
                    if written[-1]:
                        held -= mine
                chosen = [item for item, ok in zip(items, written, strict=True) if ok]
                if not chosen:
                    return written
                rows = [
                    {
                        "b_service": service,
                        "b_contract": contract,
                        "b_worker": worker,
                        "b_id": f.request_id,
                        "b_tx": tx.tx_hash,
                        "b_delivery": f.with_delivery,
                        "b_output": f.output,
                        "b_proof": f.proof,
                        "b_failure": f.callback_failure,
                    }
                    for tx, fulfilments in chosen
                    for f in fulfilments
                ]
                result = await conn.execute(_FULFILLING.values(updated_at=now), rows)
                if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(rows):
                    raise _LeaseMoved
                await conn.execute(
                    insert(O),
                    [
                        {
                            "tx_hash": tx.tx_hash,
                            "service": service,
                            "raw": tx.raw,
                            "valid_until_block": tx.valid_until_block,
                            "system_fee": tx.system_fee,
                            "network_fee": tx.network_fee,
                            "status": "pending",
                            "send_count": 0,
                            "created_at": now,
                        }
                        for tx, _ in chosen
                    ],
                )
        except _LeaseMoved:
            return [await self.write_outbox(service, contract, worker, now, tx, f) for tx, f in items]
        return written

    async def mark_failed(
        self, service: str, contract: str, worker: str, request_id: int, reason: str, now: datetime
    ) -> bool:
        """SEEN -> FAILED (the fulfilment's dry-run faulted; nothing was sent)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
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
            )
        return bool(result.rowcount)

    async def pending_outbox(self, service: str) -> list[OutboxEntry]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(O).where(O.c.service == service, O.c.status == "pending").order_by(O.c.created_at)
                )
            ).all()
        return [
            OutboxEntry(
                r.tx_hash, bytes(r.raw), int(r.valid_until_block), int(r.send_count), utc(r.last_sent_at)
            )
            for r in rows
        ]

    async def mark_sent(self, tx_hash: str, now: datetime, error: str | None) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(O)
                .where(O.c.tx_hash == tx_hash)
                .values(send_count=O.c.send_count + 1, last_sent_at=now, last_error=error)
            )

    async def mark_sent_many(self, sent: Sequence[tuple[str, str | None]], now: datetime) -> None:
        """``mark_sent`` for several transactions (hash, error) in one database transaction."""
        if not sent:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                update(O)
                .where(O.c.tx_hash == bindparam("b_tx"))
                .values(send_count=O.c.send_count + 1, last_sent_at=now, last_error=bindparam("b_error")),
                [{"b_tx": tx_hash, "b_error": error} for tx_hash, error in sent],
            )

    async def outbox_included(self, tx_hash: str, block: int) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(O).where(O.c.tx_hash == tx_hash).values(status="included", included_block=block)
            )

    async def outbox_retry(self, tx_hash: str, status: str, now: datetime) -> int:
        """The transaction expired (or faulted on chain): its FULFILLING requests go back to SEEN."""
        async with self._engine.begin() as conn:
            await conn.execute(update(O).where(O.c.tx_hash == tx_hash).values(status=status))
            result = await conn.execute(
                update(R)
                .where(R.c.tx_hash == tx_hash, R.c.status == RequestStatus.FULFILLING.value)
                .values(status=RequestStatus.SEEN.value, lease_owner=None, lease_until=None, updated_at=now)
            )
        return int(result.rowcount or 0)

    # Reading ------------------------------------------------------------------------------------

    async def get(self, service: str, contract: str, request_id: int) -> ChainRequest | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(R).where(
                        R.c.service == service, R.c.contract == contract, R.c.request_id == request_id
                    )
                )
            ).first()
        return _request(row) if row is not None else None

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

    # Service keys -------------------------------------------------------------------------------

    async def service_key(self, role: str) -> tuple[str, str, bytes] | None:
        """(key id, kind, public key) of the enclave key playing ``role``."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(chain_service_keys).where(chain_service_keys.c.role == role))
            ).first()
        return (row.key_id, row.kind, bytes(row.public_key)) if row is not None else None

    async def put_service_key(
        self, role: str, key_id: str, kind: str, public_key: bytes, sealed: bytes, version: int, now: datetime
    ) -> bool:
        """Record a new service key and its sealed record; False if ``role`` already has a key."""
        async with self._engine.begin() as conn:
            inserted = await self._insert_ignore(
                conn,
                chain_service_keys,
                {"role": role, "key_id": key_id, "kind": kind, "public_key": public_key, "created_at": now},
            )
            if not inserted:
                await conn.rollback()
                return False
            await conn.execute(
                insert(key_sealed_records).values(
                    key_id=key_id, version=version, sealed=sealed, created_at=now
                )
            )
        return True
