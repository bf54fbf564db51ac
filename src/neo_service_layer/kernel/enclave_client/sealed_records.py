"""Sealed key records (``key_sealed_records``): the enclave's keys as the database keeps them.

Every enclave key (tenant keys and platform keys alike) is stored sealed, by key id and version; an
enclave restarted empty is re-provisioned from here by the client's loader. The blobs are opaque to the
host and bound to their tenant by their associated data, so the table is not tenant-scoped.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, LargeBinary, PrimaryKeyConstraint, String, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.enclave.wire.keys import KeyId
from neo_service_layer.kernel.db.tables import metadata
from neo_service_layer.kernel.enclave_client.ports import SealedRecordLoader

key_sealed_records = Table(
    "key_sealed_records",
    metadata,
    Column("key_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("key_id", "version", name="pk_key_sealed_records"),
)


class SealedRecordMissing(NotFound):
    """No sealed record of the key (and version) asked for."""


def sealed_record_loader(engine: AsyncEngine) -> SealedRecordLoader:
    """The enclave client's ``SealedRecordLoader``: the record of a key version, or the newest one."""

    async def load(key_id: KeyId, version: int | None) -> bytes:
        table = key_sealed_records
        query = select(table.c.sealed).where(table.c.key_id == key_id)
        if version is None:
            query = query.order_by(table.c.version.desc()).limit(1)
        else:
            query = query.where(table.c.version == version)
        async with engine.connect() as conn:
            record = (await conn.execute(query)).scalar()
        if record is None:
            raise SealedRecordMissing(f"no sealed record for key {key_id} version {version or 'latest'}")
        return bytes(record)

    return load
