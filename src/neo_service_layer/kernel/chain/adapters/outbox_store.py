"""The fulfilment outbox over SQLAlchemy Core: what the relay reads and marks, for any service.

Entries are written by ``SqlRequestStore.write_outbox(es)`` in the transaction that moves their requests
to FULFILLING; from then on only their sending, inclusion and expiry are tracked here, which needs no
request payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.outbox_writes import outbox_row
from neo_service_layer.kernel.chain.adapters.tables import chain_outbox, chain_requests
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import OutboxEntry, RequestStatus
from neo_service_layer.kernel.db.timestamps import utc

O = chain_outbox  # noqa: E741
R = chain_requests


class SqlOutboxStore:
    """Implements ``ports.request_store.OutboxStore`` and ``ports.evm.EvmOutboxStore`` (SQLite or
    PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
        """The transaction expired (or faulted on chain): its FULFILLING requests go back to SEEN.

        Only a ``faulted`` transaction counts in the requests' ``chain_faults`` (same statement).
        """
        faults = R.c.chain_faults + 1 if status == "faulted" else R.c.chain_faults
        async with self._engine.begin() as conn:
            await conn.execute(update(O).where(O.c.tx_hash == tx_hash).values(status=status))
            result = await conn.execute(
                update(R)
                .where(R.c.tx_hash == tx_hash, R.c.status == RequestStatus.FULFILLING.value)
                .values(
                    status=RequestStatus.SEEN.value,
                    lease_owner=None,
                    lease_until=None,
                    chain_faults=faults,
                    updated_at=now,
                )
            )
        return int(result.rowcount or 0)

    async def outbox_replace(self, old_hash: str, new: SignedTransaction, now: datetime) -> bool:
        """An EVM replacement (same nonce, higher fees) takes the place of ``old_hash``, atomically."""
        async with self._engine.begin() as conn:
            old = (
                await conn.execute(
                    update(O)
                    .where(O.c.tx_hash == old_hash, O.c.status == "pending")
                    .values(status="replaced")
                    .returning(O.c.service)
                )
            ).first()
            if old is None:
                return False
            await conn.execute(insert(O).values(**outbox_row(str(old.service), new, now)))
            await conn.execute(
                update(R)
                .where(R.c.tx_hash == old_hash, R.c.status == RequestStatus.FULFILLING.value)
                .values(tx_hash=new.tx_hash, updated_at=now)
            )
        return True
