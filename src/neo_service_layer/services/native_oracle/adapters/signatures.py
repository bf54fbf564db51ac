"""``native_oracle_signatures`` and ``native_oracle_pending``: the designated nodes' signatures a node
gathers and its own response transactions waiting for them (SQL; PostgreSQL or SQLite)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.sql_support import insert_ignore
from neo_service_layer.services.native_oracle.adapters.tables import (
    native_oracle_pending,
    native_oracle_signatures,
)

S = native_oracle_signatures
P = native_oracle_pending

#: signatures kept per key and request (the oldest gives way): a main and a backup response, each signed
#: again when the node answers again (neo-go keeps the latest per key and kind)
MAX_SIGNATURES_PER_KEY = 4


class SqlSignatureStore:
    """Implements ``ports.SignatureStore``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_signature(
        self, request_id: int, public_key: bytes, signature: bytes, now: datetime
    ) -> bool:
        async with self._engine.begin() as conn:
            held = await conn.scalar(
                select(func.count())
                .select_from(S)
                .where(S.c.request_id == request_id, S.c.public_key == public_key)
            )
            if int(held or 0) >= MAX_SIGNATURES_PER_KEY:  # the key's oldest gives way: the latest counts
                oldest = await conn.execute(
                    select(S.c.signature)
                    .where(S.c.request_id == request_id, S.c.public_key == public_key)
                    .order_by(S.c.received_at)
                    .limit(int(held or 0) - MAX_SIGNATURES_PER_KEY + 1)
                )
                gone = [bytes(r.signature) for r in oldest]
                await conn.execute(
                    delete(S).where(
                        S.c.request_id == request_id, S.c.public_key == public_key, S.c.signature.in_(gone)
                    )
                )
            values = {
                "request_id": request_id,
                "public_key": public_key,
                "signature": signature,
                "received_at": now,
            }
            return await insert_ignore(conn, S, values)

    async def signatures(self, request_id: int) -> list[tuple[bytes, bytes]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(S.c.public_key, S.c.signature)
                .where(S.c.request_id == request_id)
                .order_by(S.c.received_at)
            )
            return [(bytes(r.public_key), bytes(r.signature)) for r in rows]

    async def set_pending(self, request_id: int, raw: bytes, valid_until_block: int, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(P).where(P.c.request_id == request_id))
            values = {
                "request_id": request_id,
                "raw": raw,
                "valid_until_block": valid_until_block,
                "updated_at": now,
            }
            await insert_ignore(conn, P, values)  # a concurrent writer's equal transaction may stay

    async def pending(self, request_id: int) -> bytes | None:
        async with self._engine.connect() as conn:
            raw = await conn.scalar(select(P.c.raw).where(P.c.request_id == request_id))
            return None if raw is None else bytes(raw)

    async def forget(self, request_id: int) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(P).where(P.c.request_id == request_id))
            await conn.execute(delete(S).where(S.c.request_id == request_id))

    async def prune(self, before: datetime) -> int:
        async with self._engine.begin() as conn:
            signatures = await conn.execute(delete(S).where(S.c.received_at < before))
            pending = await conn.execute(delete(P).where(P.c.updated_at < before))
        return int(signatures.rowcount or 0) + int(pending.rowcount or 0)
