"""Which enclave key plays which role (``chain_service_keys``), stored with its sealed record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.sql_support import insert_ignore
from neo_service_layer.kernel.chain.adapters.tables import chain_service_keys
from neo_service_layer.kernel.enclave_client.sealed_records import key_sealed_records


class SqlRoleKeyStore:
    """Implements ``ports.role_keys.RoleKeyStore`` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def service_key(self, role: str) -> tuple[str, str, bytes] | None:
        """(key id, kind, public key) of the enclave key playing ``role``."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(chain_service_keys).where(chain_service_keys.c.role == role))
            ).first()
        return (row.key_id, row.kind, bytes(row.public_key)) if row is not None else None

    async def service_keys(self) -> dict[str, tuple[str, str, bytes]]:
        """Every role's key: role -> (key id, kind, public key), by role."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(chain_service_keys).order_by(chain_service_keys.c.role))).all()
        return {row.role: (row.key_id, row.kind, bytes(row.public_key)) for row in rows}

    async def put_service_key(
        self, role: str, key_id: str, kind: str, public_key: bytes, sealed: bytes, version: int, now: datetime
    ) -> bool:
        """Record a new role key and its sealed record; False if ``role`` already has a key."""
        async with self._engine.begin() as conn:
            inserted = await insert_ignore(
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
