"""Reads of the request pipeline's tables for the request view: pages of requests, one request with its
outbox transaction, the watcher's cursor and how many workers are alive.

A tenant sees the requests of the consumer contracts its subscriptions watch (``request_watches``, for
that service or every service) and of the services whose scope it holds; an operator sees every one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from neo_service_layer.kernel.chain.adapters.tables import chain_cursors, chain_outbox, chain_requests
from neo_service_layer.kernel.db.heartbeats import live_workers
from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.kernel.events.watches import request_watches
from neo_service_layer.kernel.request_view.rules import OutboxFacts, Position, RequestFacts

R, OB, W = chain_requests, chain_outbox, request_watches


@dataclass(frozen=True, slots=True)
class Visibility:
    """Whose requests a caller sees: every one (``tenant_id`` None) or a tenant's watched consumers',
    of ``services`` only."""

    services: frozenset[str]
    tenant_id: str | None = None


def _facts(row: Any) -> RequestFacts:
    return RequestFacts(
        service=row.service,
        contract=row.contract,
        request_id=int(row.request_id),
        consumer=row.consumer,
        status=row.status,
        attempts=int(row.attempts or 0),
        request_block=int(row.request_block),
        request_tx=row.request_tx,
        seen_at=utc_required(row.seen_at),
        updated_at=utc_required(row.updated_at),
        lease_owner=row.lease_owner,
        lease_until=utc(row.lease_until) if row.lease_until is not None else None,
        tx_hash=row.tx_hash,
        with_delivery=row.with_delivery,
        fulfilled_block=row.fulfilled_block,
        fulfilled_tx=row.fulfilled_tx,
        delivered_block=row.delivered_block,
        failure_reason=row.failure_reason,
        callback_failure=row.callback_failure,
        chain_faults=int(row.chain_faults or 0),
    )


def _visible(who: Visibility) -> ColumnElement[bool]:
    allowed: ColumnElement[bool] = R.c.service.in_(sorted(who.services))
    if who.tenant_id is None:
        return allowed
    watched = exists().where(
        W.c.tenant_id == who.tenant_id,
        W.c.consumer == R.c.consumer,
        or_(W.c.service.is_(None), W.c.service == R.c.service),
    )
    return and_(allowed, watched)


class SqlRequestView:
    """The request view over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def page(
        self,
        who: Visibility,
        *,
        service: str | None,
        state: str | None,
        consumer: str | None,
        after: Position | None,
        limit: int,
    ) -> tuple[list[tuple[RequestFacts, OutboxFacts | None]], bool]:
        """Up to ``limit`` requests, newest seen first, after ``after``; and whether more follow."""
        conditions = [_visible(who)]
        if service is not None:
            conditions.append(R.c.service == service)
        if state is not None:
            conditions.append(R.c.status == state)
        if consumer is not None:
            conditions.append(R.c.consumer == consumer)
        if after is not None:
            key = tuple_(R.c.seen_at, R.c.service, R.c.contract, R.c.request_id)
            conditions.append(key < tuple_(after.seen_at, after.service, after.contract, after.request_id))
        query = (
            select(R, OB.c.status.label("o_status"), *_outbox_columns())
            .select_from(R.outerjoin(OB, OB.c.tx_hash == R.c.tx_hash))
            .where(*conditions)
            .order_by(R.c.seen_at.desc(), R.c.service.desc(), R.c.contract.desc(), R.c.request_id.desc())
            .limit(limit + 1)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(_facts(r), _joined_outbox(r)) for r in rows[:limit]], len(rows) > limit

    async def one(
        self, who: Visibility, service: str, request_id: int, contract: str | None
    ) -> list[tuple[RequestFacts, OutboxFacts | None]]:
        """The visible requests with this id of ``service`` (one per contract, or the one asked for)."""
        conditions = [_visible(who), R.c.service == service, R.c.request_id == request_id]
        if contract is not None:
            conditions.append(R.c.contract == contract)
        query = (
            select(R, OB.c.status.label("o_status"), *_outbox_columns())
            .select_from(R.outerjoin(OB, OB.c.tx_hash == R.c.tx_hash))
            .where(*conditions)
            .order_by(R.c.contract)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(_facts(r), _joined_outbox(r)) for r in rows]

    async def watcher_blocks(self, names: Sequence[str]) -> dict[str, int]:
        """The watchers' cursors (``service:contract``) that exist among ``names``."""
        if not names:
            return {}
        query = select(chain_cursors.c.name, chain_cursors.c.block_index).where(
            chain_cursors.c.name.in_(sorted(set(names)))
        )
        async with self._engine.connect() as conn:
            return {r.name: int(r.block_index) for r in (await conn.execute(query)).all()}

    async def live_workers(self, now: datetime, within: timedelta) -> int:
        return await live_workers(self._engine, now - within)


def _outbox_columns() -> list[Any]:
    return [
        OB.c.send_count.label("o_send_count"),
        OB.c.valid_until_block.label("o_valid_until_block"),
        OB.c.last_sent_at.label("o_last_sent_at"),
        OB.c.included_block.label("o_included_block"),
        OB.c.last_error.label("o_last_error"),
    ]


def _joined_outbox(row: Any) -> OutboxFacts | None:
    if row.o_status is None:
        return None
    return OutboxFacts(
        tx_hash=row.tx_hash,
        status=row.o_status,
        send_count=int(row.o_send_count or 0),
        valid_until_block=int(row.o_valid_until_block),
        last_sent_at=utc(row.o_last_sent_at) if row.o_last_sent_at is not None else None,
        included_block=row.o_included_block,
        last_error=row.o_last_error,
    )
