"""Tables of the secrets service (SQLAlchemy Core, on the shared ``metadata``).

All three are tenant data, with ``tenant_id`` and row-level security on PostgreSQL (created by
``kernel/db/migrations/versions/0003_keys_secrets.py``):

- ``tenant_secrets``: one row per secret (allowed consumers, current version).
- ``tenant_secret_versions``: each version's value, sealed by the enclave, and its metadata.
- ``secret_sources``: external provider configurations a tenant keeps for re-sync, sealed by the enclave
  (credentials included).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKeyConstraint,
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
TENANT_TABLES = ("tenant_secrets", "tenant_secret_versions", "secret_sources")


def _ts(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


tenant_secrets = Table(
    "tenant_secrets",
    metadata,
    Column("tenant_id", String(ID), nullable=False),
    Column("name", String(100), nullable=False),
    Column("consumers", Text, nullable=False),  # space-separated
    Column("current_version", Integer, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    # space-separated; the current version's pinned hosts (the enclave reads them from the sealed value)
    Column("allowed_hosts", Text, nullable=False, server_default=""),
    PrimaryKeyConstraint("tenant_id", "name", name="pk_tenant_secrets"),
)

tenant_secret_versions = Table(
    "tenant_secret_versions",
    metadata,
    Column("tenant_id", String(ID), nullable=False),
    Column("name", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    _ts("created_at"),
    _ts("expires_at", True),
    PrimaryKeyConstraint("tenant_id", "name", "version", name="pk_tenant_secret_versions"),
    ForeignKeyConstraint(
        ["tenant_id", "name"],
        ["tenant_secrets.tenant_id", "tenant_secrets.name"],
        name="fk_tenant_secret_versions_tenant_id_tenant_secrets",
        ondelete="CASCADE",
    ),
)

secret_sources = Table(
    "secret_sources",
    metadata,
    Column("tenant_id", String(ID), nullable=False),
    Column("name", String(100), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("sealed_config", LargeBinary, nullable=False),  # enclave-sealed JSON incl. credentials
    _ts("created_at"),
    PrimaryKeyConstraint("tenant_id", "name", name="pk_secret_sources"),
)
