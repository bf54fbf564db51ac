"""Reads for the message view: messages with their lease and their ``deliver`` transaction's outbox row
(one by id, a sender's by nonce, recent ones across senders newest first), and how many workers are
alive. SQLAlchemy Core over SQLite or PostgreSQL; the reasons themselves are ``rules.why``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.tables import chain_outbox
from neo_service_layer.kernel.db.heartbeats import live_workers
from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.services.crosschain.adapters.outboxes import EVM_OUTBOX, N3_OUTBOX
from neo_service_layer.services.crosschain.adapters.store import message_of
from neo_service_layer.services.crosschain.adapters.tables import crosschain_messages
from neo_service_layer.services.crosschain.rules import MessageStatus
from neo_service_layer.services.crosschain.rules.why import DeliveryTx, Position, StoredMessage

M, OB = crosschain_messages, chain_outbox
#: the outbox services of the relayed transactions (one per destination chain)
OUTBOX_SERVICES = (N3_OUTBOX, EVM_OUTBOX)

type Viewed = tuple[StoredMessage, DeliveryTx | None]


def _joined() -> Select[Any]:
    """Messages left-joined with their ``deliver`` transaction's outbox row (prefixed ``o_``)."""
    on = (OB.c.tx_hash == M.c.deliver_tx) & OB.c.service.in_(OUTBOX_SERVICES)
    return select(
        M,
        OB.c.service.label("o_service"),
        OB.c.status.label("o_status"),
        OB.c.send_count.label("o_send_count"),
        OB.c.valid_until_block.label("o_valid_until_block"),
        OB.c.last_sent_at.label("o_last_sent_at"),
        OB.c.included_block.label("o_included_block"),
        OB.c.last_error.label("o_last_error"),
    ).select_from(M.outerjoin(OB, on))


def _viewed(row: Any) -> Viewed:
    stored = StoredMessage(
        message=message_of(row),
        lease_owner=row.lease_owner,
        lease_until=utc(row.lease_until) if row.lease_until is not None else None,
        created_at=utc_required(row.created_at),
        updated_at=utc_required(row.updated_at),
    )
    if row.o_status is None:
        return stored, None
    delivery = DeliveryTx(
        tx_hash=row.deliver_tx,
        service=row.o_service,
        status=row.o_status,
        send_count=int(row.o_send_count or 0),
        valid_until_block=int(row.o_valid_until_block),
        last_sent_at=utc(row.o_last_sent_at) if row.o_last_sent_at is not None else None,
        included_block=row.o_included_block,
        last_error=row.o_last_error,
    )
    return stored, delivery


class SqlMessageView:
    """The message view's queries."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _rows(self, query: Select[Any]) -> list[Viewed]:
        async with self._engine.connect() as conn:
            return [_viewed(r) for r in (await conn.execute(query)).all()]

    async def one(self, src_chain: int, nonce: int) -> Viewed | None:
        found = await self._rows(_joined().where(M.c.src_chain == str(src_chain), M.c.nonce == nonce))
        return found[0] if found else None

    async def by_sender(self, src_chain: int, sender: bytes, after: int | None, limit: int) -> list[Viewed]:
        """The sender's messages of ``src_chain`` by nonce, after ``after`` (at most ``limit``)."""
        query = _joined().where(M.c.src_chain == str(src_chain), M.c.sender == sender.hex())
        if after is not None:
            query = query.where(M.c.nonce > after)
        return await self._rows(query.order_by(M.c.nonce).limit(limit))

    async def recent(
        self,
        *,
        status: MessageStatus | None,
        source: int | None,
        destination: int | None,
        after: Position | None,
        limit: int,
    ) -> tuple[list[Viewed], bool]:
        """Up to ``limit`` messages, newest seen first, after ``after``; and whether more follow."""
        query = _joined()
        if status is not None:
            query = query.where(M.c.status == status.value)
        if source is not None:
            query = query.where(M.c.src_chain == str(source))
        if destination is not None:
            query = query.where(M.c.dest_chain == str(destination))
        if after is not None:
            key = tuple_(M.c.created_at, M.c.src_chain, M.c.nonce)
            query = query.where(key < tuple_(after.created_at, str(after.src_chain), after.nonce))
        order = (M.c.created_at.desc(), M.c.src_chain.desc(), M.c.nonce.desc())
        found = await self._rows(query.order_by(*order).limit(limit + 1))
        return found[:limit], len(found) > limit

    async def live_workers(self, now: datetime, within: timedelta) -> int:
        """Workers whose last heartbeat is within ``within`` of ``now``."""
        return await live_workers(self._engine, now - within)
