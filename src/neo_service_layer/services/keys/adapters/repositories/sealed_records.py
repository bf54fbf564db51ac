"""The sealed key records: the enclave's encrypted key material, one row per key and version.

Global, not per tenant (no tenant column, no RLS): the enclave binds the tenant into each record and
checks it on every use. Writing a version already stored replaces its record (a re-seal after a
disable, or by the enclave a migration moved the keys to).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update

from neo_service_layer.enclave.wire.keys import KeyId
from neo_service_layer.kernel.enclave_client.sealed_records import key_sealed_records
from neo_service_layer.services.keys.adapters.repositories.base import SqlRepository


class SqlSealedRecords(SqlRepository):
    async def put(self, key_id: KeyId, version: int, sealed: bytes, created_at: datetime) -> None:
        table = key_sealed_records
        found = (
            await self._conn.execute(
                select(table.c.version).where(table.c.key_id == key_id, table.c.version == version)
            )
        ).first()
        if found is None:
            await self._conn.execute(
                insert(table).values(key_id=key_id, version=version, sealed=sealed, created_at=created_at)
            )
        else:
            await self._conn.execute(
                update(table)
                .where(table.c.key_id == key_id, table.c.version == version)
                .values(sealed=sealed)
            )

    async def get(self, key_id: KeyId, version: int | None) -> bytes | None:
        table = key_sealed_records
        query = select(table.c.sealed).where(table.c.key_id == key_id)
        if version is None:
            query = query.order_by(table.c.version.desc()).limit(1)
        else:
            query = query.where(table.c.version == version)
        value = (await self._conn.execute(query)).scalar()
        return bytes(value) if value is not None else None

    async def delete_key(self, key_id: KeyId) -> int:
        result = await self._conn.execute(
            delete(key_sealed_records).where(key_sealed_records.c.key_id == key_id)
        )
        return int(result.rowcount or 0)
