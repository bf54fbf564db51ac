"""Small SQL pieces shared by the chain store's modules: insert-or-ignore on either dialect, and a request
row (with its service payload) as a ``ChainRequest``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.kernel.chain.rules import ChainRequest, RequestStatus
from neo_service_layer.kernel.db.timestamps import utc


def insert_ignoring(conn: AsyncConnection, table: Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the connection's dialect (SQLite or PostgreSQL)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


async def insert_ignore(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> bool:
    """Insert one row unless its key exists; whether it was inserted."""
    result = await conn.execute(insert_ignoring(conn, table).values(**values))
    return bool(result.rowcount)


def chain_request[Q, A](row: Any, asked: Q, answer: A | None) -> ChainRequest[Q, A]:
    """A ``chain_requests`` row and the service's payload of it as one record."""
    return ChainRequest(
        service=row.service,
        contract=row.contract,
        request_id=int(row.request_id),
        consumer=row.consumer,
        asked=asked,
        request_block=int(row.request_block),
        request_tx=row.request_tx,
        status=RequestStatus(row.status),
        attempts=int(row.attempts),
        tx_hash=row.tx_hash,
        with_delivery=row.with_delivery,
        answer=answer,
        fulfilled_block=row.fulfilled_block,
        fulfilled_tx=row.fulfilled_tx,
        delivered_block=row.delivered_block,
        failure_reason=row.failure_reason,
        callback_failure=row.callback_failure,
        chain_faults=int(row.chain_faults or 0),
        seen_at=utc(row.seen_at),
    )
