"""Applying a block's request events to ``chain_requests`` on the caller's open transaction.

- New requests are inserted with ``ON CONFLICT DO NOTHING`` on (service, contract, request id), in one
  statement per chunk whose ``RETURNING`` says which were new: two watchers reading the same block store
  each request (and its question, through the service's payloads) once.
- Status changes are conditional updates (``WHERE status IN (...)``), one statement per batch of
  requests the same event moves (``apply_updates``); only a row an update changed reports a transition,
  so metrics count each request once however many workers saw the event.
- The cursor only moves forward.
- A request id already stored from *another* transaction means the block it was read from is no
  longer on chain: a single-validator node killed before writing its last blocks makes different ones
  at those heights (no network with several validators rewrites a committed block). The stored row is
  then not the chain's request: it is marked failed with that reason and an error is logged, so the
  request the chain now holds under that id is visible as needing an answer by hand instead of being
  silently ignored (``docs/reliability.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.kernel.chain.adapters.payloads import RequestPayloads
from neo_service_layer.kernel.chain.adapters.sql_support import insert_ignore, insert_ignoring
from neo_service_layer.kernel.chain.adapters.tables import chain_cursors, chain_outbox, chain_requests
from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    NewRequest,
    RequestStatus,
    RequestUpdate,
    Transitioned,
    sources_of,
)
from neo_service_layer.kernel.db.timestamps import utc
from neo_service_layer.kernel.observability.logs import get_logger

log = get_logger("nsl.chain")

R = chain_requests
O = chain_outbox  # noqa: E741

#: rows per INSERT: far below SQLite's bound-parameter limit (32766) at 11 columns a row
INSERT_CHUNK = 500

_TARGETS: dict[ChainEventKind, RequestStatus] = {
    ChainEventKind.FULFILLED: RequestStatus.FULFILLED,
    ChainEventKind.DELIVERED: RequestStatus.DELIVERED,
    ChainEventKind.CALLBACK_FAILED: RequestStatus.CALLBACK_FAILED,
}


async def insert_new[Q](
    conn: AsyncConnection,
    payloads: RequestPayloads[Q, Any],
    service: str,
    contract: str,
    new: Sequence[NewRequest[Q]],
    block_time: datetime | None,
    now: datetime,
) -> list[NewRequest[Q]]:
    """Store the requests not stored yet, and their questions; return those, in event order."""
    inserted: set[int] = set()
    for start in range(0, len(new), INSERT_CHUNK):
        rows = [
            {
                "service": service,
                "contract": contract,
                "request_id": req.request_id,
                "consumer": req.consumer,
                "request_block": req.block,
                "request_tx": req.tx_hash,
                "request_time": block_time,
                "seen_at": now,
                "status": RequestStatus.SEEN.value,
                "attempts": 0,
                "updated_at": now,
            }
            for req in new[start : start + INSERT_CHUNK]
        ]
        statement = insert_ignoring(conn, R).values(rows).returning(R.c.request_id)
        inserted |= {int(i) for i in (await conn.execute(statement)).scalars()}
    known = {req.request_id: req for req in new if req.request_id not in inserted}
    if known:
        await _fail_rewritten(conn, service, contract, known, now)
    fresh: dict[int, NewRequest[Q]] = {}
    for req in new:  # an id twice in one block: the first event is the one stored
        if req.request_id in inserted:
            fresh.setdefault(req.request_id, req)
    if fresh:
        await payloads.insert_asked(conn, contract, [(rid, req.asked) for rid, req in fresh.items()])
    return list(fresh.values())


def rewritten_reason(request_id: int, stored_tx: str, chain_tx: str) -> str:
    """Why a stored request is failed when the chain shows its id from another transaction."""
    return (
        f"request {request_id} was read from transaction {stored_tx}, but the chain now holds it from "
        f"{chain_tx}: the block it was read from was made again (a node lost blocks); answer it by hand"
    )


async def _fail_rewritten(
    conn: AsyncConnection, service: str, contract: str, known: dict[int, NewRequest[Any]], now: datetime
) -> None:
    """Mark failed each stored request whose id the chain now shows from another transaction."""
    key = and_(R.c.service == service, R.c.contract == contract)
    stored = (
        await conn.execute(select(R.c.request_id, R.c.request_tx).where(key, R.c.request_id.in_(list(known))))
    ).all()
    for request_id, stored_tx in stored:
        chain_tx = known[int(request_id)].tx_hash
        if stored_tx == chain_tx:
            continue  # the same request read again (another watcher, a block applied twice)
        log.error(
            "chain request recorded from a transaction no longer on chain",
            service=service,
            contract=contract,
            request_id=int(request_id),
            stored_tx=stored_tx,
            chain_tx=chain_tx,
        )
        await conn.execute(
            update(R)
            .where(key, R.c.request_id == request_id, R.c.request_tx == stored_tx)
            .values(
                status=RequestStatus.FAILED.value,
                failure_reason=rewritten_reason(int(request_id), str(stored_tx), chain_tx),
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )


#: requests per batched status ``UPDATE`` (bound parameters stay far below SQLite's and asyncpg's limits)
UPDATE_CHUNK = 1000


def _values(upd: RequestUpdate, block_time: datetime | None, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": _TARGETS[upd.kind].value,
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
    return values


def update_batches(updates: Sequence[RequestUpdate]) -> list[list[RequestUpdate]]:
    """``updates`` in batches that one statement each can apply, in an order that keeps each request's
    own updates in their order (a request's fulfilment before its delivery).

    A batch holds updates that set the same values (kind, block, transaction, reason), each request at
    most once. An update joins the newest batch of its kind unless that batch comes before (or holds)
    the request's previous update; then a new batch is opened. A block's "fulfilled, delivered" pairs
    of one transaction become two batches, however many requests it answered.
    """
    batches: list[list[RequestUpdate]] = []
    newest: dict[tuple[ChainEventKind, int, str, str | None], int] = {}
    last: dict[int, int] = {}
    for upd in updates:
        key = (upd.kind, upd.block, upd.tx_hash, upd.reason)
        index = newest.get(key, -1)
        if index < 0 or index <= last.get(upd.request_id, -1) or len(batches[index]) >= UPDATE_CHUNK:
            index = len(batches)
            batches.append([])
            newest[key] = index
        batches[index].append(upd)
        last[upd.request_id] = index
    return batches


async def apply_updates(
    conn: AsyncConnection,
    service: str,
    contract: str,
    updates: Sequence[RequestUpdate],
    block_time: datetime | None,
    now: datetime,
) -> list[Transitioned]:
    """Move requests on later events, one conditional ``UPDATE ... RETURNING`` per batch
    (:func:`update_batches`) instead of one per request: SQLite has one writer at a time, and a block
    that performed a burst's 500 runs held that lock for 1,500 statements. The transitions that
    happened, batch by batch."""
    moved: list[Transitioned] = []
    for batch in update_batches(updates):
        first = batch[0]
        target = _TARGETS[first.kind]
        sources = sources_of(first.kind, target)
        ids = [u.request_id for u in batch]
        result = await conn.execute(
            update(R)
            .where(
                R.c.service == service,
                R.c.contract == contract,
                R.c.request_id.in_(ids),
                R.c.status.in_([s.value for s in sources]),
            )
            .values(**_values(first, block_time, now))
            .returning(R.c.request_id, R.c.request_block, R.c.request_time, R.c.consumer)
        )
        rows = result.all()
        if first.kind is ChainEventKind.FULFILLED:  # our outbox transaction (if it was ours) is in
            await conn.execute(
                update(O)
                .where(O.c.tx_hash == first.tx_hash, O.c.status == "pending")
                .values(status="included", included_block=first.block)
            )
        moved += [
            Transitioned(
                int(row.request_id),
                target,
                int(row.request_block),
                first.block,
                utc(row.request_time),
                block_time,
                consumer=row.consumer,
                tx_hash=first.tx_hash,
                reason=first.reason,
            )
            for row in rows
        ]
    return moved


async def reopen_from(conn: AsyncConnection, service: str, contract: str, block: int, now: datetime) -> int:
    """``RequestStore.reopen_from`` on the caller's open transaction."""
    done = [
        s.value for s in (RequestStatus.FULFILLED, RequestStatus.DELIVERED, RequestStatus.CALLBACK_FAILED)
    ]
    key = and_(R.c.service == service, R.c.contract == contract, R.c.fulfilled_block >= block)
    rows = (
        await conn.execute(select(R.c.request_id, R.c.fulfilled_tx).where(key, R.c.status.in_(done)))
    ).all()
    if not rows:
        return 0
    txs = {str(r.fulfilled_tx) for r in rows if r.fulfilled_tx}
    ours = {str(t) for t in (await conn.execute(select(O.c.tx_hash).where(O.c.tx_hash.in_(txs)))).scalars()}
    cleared: dict[str, Any] = {
        "fulfilled_block": None,
        "fulfilled_tx": None,
        "fulfilled_time": None,
        "delivered_block": None,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
    }
    for request_id, fulfilled_tx in rows:
        mine = fulfilled_tx in ours
        await conn.execute(
            update(R)
            .where(key, R.c.request_id == request_id, R.c.status.in_(done))
            .values(
                status=(RequestStatus.FULFILLING if mine else RequestStatus.SEEN).value,
                tx_hash=fulfilled_tx if mine else None,
                **cleared,
            )
        )
    if ours:
        await conn.execute(
            update(O)
            .where(O.c.tx_hash.in_(ours), O.c.status == "included")
            .values(status="pending", included_block=None)
        )
    log.error(
        "requests recorded as fulfilled in blocks the node made again are open again",
        service=service,
        first_block=block,
        requests=len(rows),
    )
    return len(rows)


async def advance_cursor(conn: AsyncConnection, name: str, block: int, now: datetime) -> None:
    """Move the cursor ``name`` to ``block`` unless it is there or further already."""
    moved = await conn.execute(
        update(chain_cursors)
        .where(chain_cursors.c.name == name, chain_cursors.c.block_index < block)
        .values(block_index=block, updated_at=now)
    )
    if moved.rowcount == 0:
        await insert_ignore(conn, chain_cursors, {"name": name, "block_index": block, "updated_at": now})
