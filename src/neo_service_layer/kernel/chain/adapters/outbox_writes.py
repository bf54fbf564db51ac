"""Writing fulfilment transactions to the outbox: lease re-checked, requests to FULFILLING, answers
recorded by the service's payloads, all on the caller's open transaction.

A worker whose lease ran out never records (and therefore never sends) a transaction. One transaction's
requests are moved with one statement, whatever their number; the batched form (a burst answered in one
block) reads the leases once and writes every request, answer and outbox row with one ``executemany``
each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.kernel.chain.adapters.payloads import RequestPayloads
from neo_service_layer.kernel.chain.adapters.tables import chain_outbox, chain_requests
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import Fulfilment, RequestStatus
from neo_service_layer.kernel.events.adapters import publish

R = chain_requests
O = chain_outbox  # noqa: E741


class LeaseMoved(Exception):
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
        callback_failure=bindparam("b_failure"),
        attempts=R.c.attempts + 1,
    )
)


def outbox_row(service: str, tx: SignedTransaction, now: datetime) -> dict[str, Any]:
    """A new pending ``chain_outbox`` row for ``tx``."""
    return {
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


async def write_leased[A](
    conn: AsyncConnection,
    payloads: RequestPayloads[Any, A],
    service: str,
    contract: str,
    worker: str,
    now: datetime,
    tx: SignedTransaction,
    fulfilments: Sequence[Fulfilment[A]],
) -> bool:
    """Record one transaction; False (the caller rolls back) when a request is no longer leased.

    One ``UPDATE`` per kind of answer (normally one for the whole transaction), not one per request:
    SQLite has one writer at a time, and a write transaction of 64 statements, each a round trip through
    the event loop, held that lock while the other writers (the other groups of a burst, the scheduler)
    slept in its busy handler (``bench/RESULTS.md``, "Automation"). The row count says whether every
    request was still leased: all or nothing, as before.
    """
    kinds: dict[tuple[bool, str | None], list[int]] = {}
    for f in fulfilments:
        kinds.setdefault((f.with_delivery, f.callback_failure), []).append(f.request_id)
    for (with_delivery, callback_failure), ids in kinds.items():
        result = await conn.execute(
            update(R)
            .where(
                R.c.service == service,
                R.c.contract == contract,
                R.c.request_id.in_(ids),
                R.c.status == RequestStatus.SEEN.value,
                R.c.lease_owner == worker,
                R.c.lease_until > now,
            )
            .values(
                status=RequestStatus.FULFILLING.value,
                tx_hash=tx.tx_hash,
                with_delivery=with_delivery,
                callback_failure=callback_failure,
                attempts=R.c.attempts + 1,
                updated_at=now,
            )
        )
        if result.rowcount != len(ids):  # one not leased (or named twice): nothing is written
            return False
    await payloads.record_answers(conn, contract, [(f.request_id, f.answer) for f in fulfilments])
    await conn.execute(insert(O).values(**outbox_row(service, tx, now)))
    await _publish_answer_events(conn, fulfilments)
    return True


async def _publish_answer_events[A](conn: AsyncConnection, fulfilments: Sequence[Fulfilment[A]]) -> None:
    """The answers' tenant events, last in the transaction (``publish`` takes the tenants' locks)."""
    events = [event for f in fulfilments for event in f.events]
    if events:
        await publish(conn, sorted(events, key=lambda e: e.tenant_id))


async def write_leased_batch[A](
    conn: AsyncConnection,
    payloads: RequestPayloads[Any, A],
    service: str,
    contract: str,
    worker: str,
    now: datetime,
    items: Sequence[tuple[SignedTransaction, Sequence[Fulfilment[A]]]],
) -> list[bool]:
    """Record many transactions; per item, whether it was written.

    The leases are read first (``FOR UPDATE`` on PostgreSQL, so they cannot move until commit); an item
    whose requests are not all still leased by ``worker`` (or were taken by an earlier item) is skipped.
    On SQLite a lease that ran out and was taken between that read and the updates shows in the row
    count: ``LeaseMoved`` is raised for the caller to roll back and write item by item instead.
    """
    ids = [f.request_id for _, fulfilments in items for f in fulfilments]
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
            "b_failure": f.callback_failure,
        }
        for tx, fulfilments in chosen
        for f in fulfilments
    ]
    result = await conn.execute(_FULFILLING.values(updated_at=now), rows)
    if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(rows):
        raise LeaseMoved
    answers = [(f.request_id, f.answer) for _, fulfilments in chosen for f in fulfilments]
    await payloads.record_answers(conn, contract, answers)
    await conn.execute(insert(O), [outbox_row(service, tx, now) for tx, _ in chosen])
    await _publish_answer_events(conn, [f for _, fulfilments in chosen for f in fulfilments])
    return written
