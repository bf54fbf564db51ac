"""Announcing keys due for rotation: one ``key.rotation_due`` tenant event per key version, written with
the row that remembers it (``key_rotation_notices``) in one transaction, so a version is announced once
however many workers run or crash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Integer, PrimaryKeyConstraint, String, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.sql_support import insert_ignoring
from neo_service_layer.kernel.db.tables import metadata
from neo_service_layer.kernel.events.adapters import publish
from neo_service_layer.kernel.events.rules import KEY_ROTATION_DUE, TenantEvent
from neo_service_layer.services.keys.rules import ManagedKey

key_rotation_notices = Table(
    "key_rotation_notices",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("noticed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "key_id", "version", name="pk_key_rotation_notices"),
)
N = key_rotation_notices


class SqlRotationNotices:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def announce(self, key: ManagedKey, max_age_days: int, now: datetime) -> bool:
        """Publish ``key.rotation_due`` for the key's current version unless it was announced before."""
        row = {"tenant_id": key.tenant_id, "key_id": key.key_id, "version": key.current_version}
        async with self._engine.begin() as conn:
            inserted = await conn.execute(
                insert_ignoring(conn, N).values(**row, noticed_at=now).returning(N.c.version)
            )
            if inserted.first() is None:
                return False
            data = {
                "keyId": key.key_id,
                "label": key.label,
                "version": key.current_version,
                "since": key.current.created_at.isoformat(),
                "maxAgeDays": max_age_days,
            }
            await publish(conn, [TenantEvent(key.tenant_id, KEY_ROTATION_DUE, now, data)])
        return True
