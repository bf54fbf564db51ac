"""Sealed records read and written outside any tenant's transaction, for key migration: it reads every
record and stores the records re-sealed by the new enclave. (The enclave client's loader, which
re-provisions an enclave restarted empty, is the kernel's: ``kernel.enclave_client.sealed_records``.)"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.keys import KeyId, SealedKey
from neo_service_layer.kernel.enclave_client.sealed_records import key_sealed_records
from neo_service_layer.services.keys.adapters.tables import managed_keys
from neo_service_layer.services.keys.adapters.unit_of_work import SqlKeysUnitOfWork


class SqlSealedRecordStore:
    """Every row of ``key_sealed_records``, for key migration (``services.key_migration.RecordStore``).

    Storing a re-sealed record replaces the old enclave's record of the same key id and version.
    """

    def __init__(self, engine: AsyncEngine, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._now = now

    async def all_records(self) -> list[tuple[KeyId, int, bytes]]:
        table = key_sealed_records
        async with SqlKeysUnitOfWork(self._engine) as uow:
            rows = (
                await uow.connection.execute(
                    select(table.c.key_id, table.c.version, table.c.sealed).order_by(
                        table.c.key_id, table.c.version
                    )
                )
            ).all()
        return [(str(row.key_id), int(row.version), bytes(row.sealed)) for row in rows]

    async def put_records(self, records: Sequence[SealedKey]) -> None:
        now = self._now()
        async with SqlKeysUnitOfWork(self._engine) as uow:
            for record in records:
                await uow.sealed_records.put(
                    record.info.key_id, record.info.version, record.sealed_record, now
                )
            await uow.commit()

    async def unknown_keys(self, key_ids: Sequence[KeyId]) -> list[KeyId]:
        """Those of ``key_ids`` with no row in ``managed_keys`` (created after a restored backup)."""
        if not key_ids:
            return []
        async with SqlKeysUnitOfWork(self._engine) as uow:
            known = set(
                (
                    await uow.connection.execute(
                        select(managed_keys.c.key_id).where(managed_keys.c.key_id.in_(list(key_ids)))
                    )
                ).scalars()
            )
        return sorted(set(key_ids) - known)
