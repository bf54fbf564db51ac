"""The relaying service's store (SQLite or PostgreSQL): messages, the gateways' cursors, the outbox.

A gateway's block is applied in one database transaction with its cursor move (``apply_block``): a
message seen twice is inserted once, an execution or a stored receipt moves a message only forward (a
later attempt wins, an earlier one read again changes nothing). Deliveries and receipts are claimed
under a lease like the pipeline's requests, and written to ``chain_outbox`` in the transaction that
moves the message (``write_delivery``, ``write_receipt``): only while the worker still holds the lease.
The outbox relays (``OutboxRelay`` on N3, ``EvmOutboxRelay`` on an EVM chain) settle the transactions;
when one of ours can never be included (expired, its nonce spent by another, reverted) its message goes
back to be claimed again (``outbox_retry``), and a replacement takes its place (``outbox_replace``).

Two texts are kept apart: ``reason``, the outcome's (the receiver's revert reason written by the watcher,
or why ``refuse`` refused it), and ``relay_note``, why the relayer last gave the message back
(``release``). The relayer gives back receipts of messages that already ran, so a note written to
``reason`` would replace a failed message's revert reason. A note says why the message waits: it is
cleared once the message moves on (its delivery or receipt written, an execution read, a refusal, the
receipt of its latest attempt stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.chain.adapters.outbox_store import SqlOutboxStore
from neo_service_layer.kernel.chain.adapters.outbox_writes import outbox_row
from neo_service_layer.kernel.chain.adapters.request_events import advance_cursor
from neo_service_layer.kernel.chain.adapters.sql_support import insert_ignore
from neo_service_layer.kernel.chain.adapters.tables import chain_cursors, chain_outbox
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import revert_text
from neo_service_layer.services.crosschain.adapters.tables import crosschain_messages
from neo_service_layer.services.crosschain.rules import (
    Executed,
    GatewayEvent,
    Message,
    MessageStatus,
    ReceiptStatus,
    ReceiptStored,
    Sent,
)

M = crosschain_messages
_SEEN, _DELIVERING = MessageStatus.SEEN.value, MessageStatus.DELIVERING.value
_DUE, _SENDING = ReceiptStatus.DUE.value, ReceiptStatus.SENDING.value


def message_of(row: Any) -> Message:
    """A ``crosschain_messages`` row as a ``Message``."""
    return Message(
        src_chain=int(row.src_chain),
        nonce=int(row.nonce),
        dest_chain=int(row.dest_chain),
        sender=bytes.fromhex(row.sender),
        receiver=bytes.fromhex(row.receiver),
        payload=bytes(row.payload),
        gas_limit=int(row.gas_limit),
        fee=int(row.fee),
        src_block=int(row.src_block),
        src_tx=str(row.src_tx),
        status=MessageStatus(row.status),
        attempts=int(row.attempts),
        deliver_tx=row.deliver_tx,
        dest_block=row.dest_block,
        dest_tx=row.dest_tx,
        result=bytes(row.result) if row.result is not None else None,
        reason=row.reason,
        relay_note=row.relay_note,
        receipt_status=ReceiptStatus(row.receipt_status),
        receipt_attempt=int(row.receipt_attempt),
        receipt_tx=row.receipt_tx,
        receipt_block=row.receipt_block,
    )


def _key(src_chain: int, nonce: int) -> Any:
    return and_(M.c.src_chain == str(src_chain), M.c.nonce == nonce)


class SqlCrosschainStore(SqlOutboxStore):
    """Messages, cursors and (inherited) the outbox, with the outbox's retries moving messages back."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._engine = engine

    # Watching ---------------------------------------------------------------------------------------

    async def cursor(self, name: str) -> int | None:
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(select(chain_cursors.c.block_index).where(chain_cursors.c.name == name))
            ).scalar()
        return int(value) if value is not None else None

    async def apply_block(
        self, cursor_name: str, block: int, events: Sequence[GatewayEvent], now: datetime
    ) -> int:
        """Record a gateway block's events and move its cursor, atomically; how many rows changed."""
        changed = 0
        async with self._engine.begin() as conn:
            for event in events:
                if isinstance(event, Sent):
                    changed += await self._insert(conn, event, now)
                elif isinstance(event, Executed):
                    changed += await self._executed(conn, event, now)
                elif isinstance(event, ReceiptStored):
                    changed += await self._receipt_stored(conn, event, now)
            await advance_cursor(conn, cursor_name, block, now)
        return changed

    async def _insert(self, conn: AsyncConnection, event: Sent, now: datetime) -> int:
        values = {
            "src_chain": str(event.src_chain),
            "nonce": event.nonce,
            "dest_chain": str(event.dest_chain),
            "sender": event.sender.hex(),
            "receiver": event.receiver.hex(),
            "payload": event.payload,
            "gas_limit": event.gas_limit,
            "fee": str(event.fee),
            "src_block": event.block,
            "src_tx": event.tx_hash,
            "status": _SEEN,
            "attempts": 0,
            "receipt_status": ReceiptStatus.NONE.value,
            "receipt_attempt": 0,
            "created_at": now,
            "updated_at": now,
        }
        return int(await insert_ignore(conn, M, values))

    async def _executed(self, conn: AsyncConnection, event: Executed, now: datetime) -> int:
        status = MessageStatus.EXECUTED if event.ok else MessageStatus.FAILED
        result = await conn.execute(
            update(M)
            .where(_key(event.src_chain, event.nonce), M.c.attempts < event.attempt)
            .values(
                status=status.value,
                attempts=event.attempt,
                dest_block=event.block,
                dest_tx=event.tx_hash,
                result=event.result if event.ok else None,
                reason=None if event.ok else _reason(event.result),
                relay_note=None,
                receipt_status=_DUE,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        return int(result.rowcount or 0)

    async def _receipt_stored(self, conn: AsyncConnection, event: ReceiptStored, now: datetime) -> int:
        # the receipt of the latest attempt settles it; an older attempt's receipt leaves a later one due
        settled = M.c.attempts <= event.attempt
        result = await conn.execute(
            update(M)
            .where(_key(event.src_chain, event.nonce), M.c.receipt_attempt < event.attempt)
            .values(
                receipt_attempt=event.attempt,
                receipt_status=case((settled, ReceiptStatus.STORED.value), else_=_DUE),
                relay_note=case((settled, None), else_=M.c.relay_note),
                receipt_block=event.block,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        return int(result.rowcount or 0)

    # Claiming ---------------------------------------------------------------------------------------

    async def claim_deliveries(
        self, dest_chain: int, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[Message]:
        """Lease up to ``limit`` messages waiting for delivery on ``dest_chain``, oldest first."""
        return await self._claim(
            and_(M.c.dest_chain == str(dest_chain), M.c.status == _SEEN), worker, now, until, limit
        )

    async def claim_receipts(
        self, src_chain: int, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[Message]:
        """Lease up to ``limit`` messages of ``src_chain`` whose latest attempt's receipt is due."""
        return await self._claim(
            and_(M.c.src_chain == str(src_chain), M.c.receipt_status == _DUE), worker, now, until, limit
        )

    async def _claim(
        self, which: Any, worker: str, now: datetime, until: datetime, limit: int
    ) -> list[Message]:
        free = or_(M.c.lease_until.is_(None), M.c.lease_until <= now)
        candidates = select(M.c.src_chain, M.c.nonce).where(which, free).order_by(M.c.src_block, M.c.nonce)
        candidates = candidates.limit(limit)
        if self._engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
            picked = candidates.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
            chosen: Any = select(picked.c.src_chain, picked.c.nonce)
        else:
            chosen = candidates
        statement = (
            update(M)
            .where(tuple_(M.c.src_chain, M.c.nonce).in_(chosen), which, free)
            .values(lease_owner=worker, lease_until=until, updated_at=now)
            .returning(*M.c)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(statement)).all()
        return sorted((message_of(r) for r in rows), key=lambda m: (m.src_block, m.nonce))

    def _held(self, message: Message, worker: str, now: datetime) -> Any:
        return and_(_key(message.src_chain, message.nonce), M.c.lease_owner == worker, M.c.lease_until > now)

    async def write_delivery(
        self, message: Message, worker: str, service: str, tx: SignedTransaction, now: datetime
    ) -> bool:
        """Our ``deliver`` of ``message`` into the outbox (service ``service``) if the lease still holds."""
        async with self._engine.begin() as conn:
            moved = await conn.execute(
                update(M)
                .where(self._held(message, worker, now), M.c.status == _SEEN)
                .values(status=_DELIVERING, deliver_tx=tx.tx_hash, relay_note=None, updated_at=now)
            )
            if not moved.rowcount:
                return False
            await conn.execute(chain_outbox.insert().values(**outbox_row(service, tx, now)))
        return True

    async def write_receipt(
        self, message: Message, worker: str, service: str, tx: SignedTransaction, now: datetime
    ) -> bool:
        """Our ``deliverReceipt`` of ``message``'s latest attempt into the outbox, if the lease holds."""
        async with self._engine.begin() as conn:
            moved = await conn.execute(
                update(M)
                .where(self._held(message, worker, now), M.c.receipt_status == _DUE)
                .values(receipt_status=_SENDING, receipt_tx=tx.tx_hash, relay_note=None, updated_at=now)
            )
            if not moved.rowcount:
                return False
            await conn.execute(chain_outbox.insert().values(**outbox_row(service, tx, now)))
        return True

    async def release(self, message: Message, worker: str, until: datetime, note: str | None = None) -> None:
        """Give the message back, claimable again from ``until``; ``note`` says why it waits (the
        outcome's ``reason`` stays as the watcher or ``refuse`` wrote it)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(M)
                .where(_key(message.src_chain, message.nonce), M.c.lease_owner == worker)
                .values(lease_owner=None, lease_until=until, relay_note=note)
            )

    async def refuse(self, message: Message, worker: str, reason: str, now: datetime) -> bool:
        """The destination will never take the message: ``refused`` with the reason."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(M)
                .where(self._held(message, worker, now), M.c.status == _SEEN)
                .values(
                    status=MessageStatus.REFUSED.value,
                    reason=reason,
                    relay_note=None,
                    lease_owner=None,
                    updated_at=now,
                )
            )
        return bool(result.rowcount)

    # The outbox's settlements -----------------------------------------------------------------------

    async def outbox_retry(self, tx_hash: str, status: str, now: datetime) -> int:
        """The transaction can never count (expired, nonce spent, reverted): its message is claimed again."""
        await super().outbox_retry(tx_hash, status, now)
        async with self._engine.begin() as conn:
            delivery = await conn.execute(
                update(M)
                .where(M.c.deliver_tx == tx_hash, M.c.status == _DELIVERING)
                .values(status=_SEEN, lease_owner=None, lease_until=None, updated_at=now)
            )
            receipt = await conn.execute(
                update(M)
                .where(M.c.receipt_tx == tx_hash, M.c.receipt_status == _SENDING)
                .values(receipt_status=_DUE, lease_owner=None, lease_until=None, updated_at=now)
            )
        return int(delivery.rowcount or 0) + int(receipt.rowcount or 0)

    async def outbox_replace(self, old_hash: str, new: SignedTransaction, now: datetime) -> bool:
        if not await super().outbox_replace(old_hash, new, now):
            return False
        async with self._engine.begin() as conn:
            await conn.execute(update(M).where(M.c.deliver_tx == old_hash).values(deliver_tx=new.tx_hash))
            await conn.execute(update(M).where(M.c.receipt_tx == old_hash).values(receipt_tx=new.tx_hash))
        return True

    # Reading ----------------------------------------------------------------------------------------

    async def get(self, src_chain: int, nonce: int) -> Message | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(M).where(_key(src_chain, nonce)))).first()
        return message_of(row) if row is not None else None


def _reason(result: bytes) -> str:
    """A receiver's failure as text: an N3 fault message as it is, EVM revert data decoded or in hex."""
    try:
        text = result.decode("utf-8")
    except UnicodeDecodeError:
        return revert_text(result)
    return (
        text
        if text.isprintable() and not result.startswith(bytes.fromhex("08c379a0"))
        else revert_text(result)
    )
