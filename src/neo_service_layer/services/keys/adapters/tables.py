"""Tables of the keys service (SQLAlchemy Core, on the shared ``metadata``).

The split that matters for isolation (see ``migrations/versions/0003_keys_secrets.py``):

- ``key_sealed_records`` has **no** tenant column and **no** row-level security. The enclave client's
  ``SealedRecordLoader`` reads it to re-provision an enclave and has no tenant context. Its blobs are
  opaque: AES-256-GCM sealed under a key only the enclave derives, with the key id, version and tenant
  bound in as associated data, and the enclave checks the tenant of the sealed policy on every use.
- What a tenant sees (``managed_keys``, ``managed_key_versions``) has ``tenant_id`` and row-level
  security on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from neo_service_layer.kernel.db.tables import metadata

ID = 64
#: tables protected by row-level security on PostgreSQL
TENANT_TABLES = ("managed_keys", "managed_key_versions")


def _ts(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


managed_keys = Table(
    "managed_keys",
    metadata,
    Column("key_id", String(ID), nullable=False),
    Column("tenant_id", String(ID), nullable=False),
    Column("label", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("purposes", Text, nullable=False),  # space-separated
    Column("status", String(24), nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("min_sign_version", Integer, nullable=False),
    Column("max_signs_per_minute", Integer, nullable=True),
    _ts("created_at"),
    _ts("rotated_at", True),
    _ts("disabled_at", True),
    _ts("destroy_after", True),
    _ts("destroyed_at", True),
    PrimaryKeyConstraint("key_id", name="pk_managed_keys"),
    Index("ix_managed_keys_tenant_id", "tenant_id"),
)

managed_key_versions = Table(
    "managed_key_versions",
    metadata,
    Column("key_id", String(ID), nullable=False),
    Column("version", Integer, nullable=False),
    Column("tenant_id", String(ID), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    _ts("created_at"),
    PrimaryKeyConstraint("key_id", "version", name="pk_managed_key_versions"),
    ForeignKeyConstraint(
        ["key_id"],
        ["managed_keys.key_id"],
        name="fk_managed_key_versions_key_id_managed_keys",
        ondelete="CASCADE",
    ),
)
