"""Keys and secrets: sealed key records, tenant key metadata, tenant secrets, remembered import sources.

Row-level security split (PostgreSQL):
- ``key_sealed_records`` (key id, version, sealed blob, created_at) has no tenant column and no RLS: the
  enclave client's loader reads it without a tenant context to re-provision the enclave. The blobs are
  AES-256-GCM sealed by the enclave, bound to key id / version / tenant, and the enclave checks the
  tenant of the sealed policy on every use.
- The tenant-visible tables get the identity migration's pattern exactly: RLS enabled and FORCEd, policy
  ``tenant_isolation`` on ``tenant_id = current_setting('app.tenant_id', true)`` (USING and WITH CHECK).

Revision ID: 0003_keys_secrets
Revises: 0002_identity
Create Date: 2026-11-25
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_keys_secrets"
down_revision: str | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "managed_keys",
    "managed_key_versions",
    "tenant_secrets",
    "tenant_secret_versions",
    "secret_sources",
)
ALL_TABLES = ("key_sealed_records", *TENANT_TABLES)


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _app_role() -> str:
    from neo_service_layer.kernel.config import ConfigurationError, load_settings

    try:
        role = load_settings().db_app_role or "nsl_app"
    except ConfigurationError:
        role = "nsl_app"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"NSL_DB_APP_ROLE {role!r}: lowercase letters, digits and '_' only")
    return role


def upgrade() -> None:
    op.create_table(
        "key_sealed_records",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("key_id", "version", name="pk_key_sealed_records"),
    )
    op.create_table(
        "managed_keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("purposes", sa.Text, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("min_sign_version", sa.Integer, nullable=False),
        sa.Column("max_signs_per_minute", sa.Integer, nullable=True),
        _ts("created_at"),
        _ts("rotated_at", True),
        _ts("disabled_at", True),
        _ts("destroy_after", True),
        _ts("destroyed_at", True),
        sa.PrimaryKeyConstraint("key_id", name="pk_managed_keys"),
    )
    op.create_index("ix_managed_keys_tenant_id", "managed_keys", ["tenant_id"])
    op.create_table(
        "managed_key_versions",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("key_id", "version", name="pk_managed_key_versions"),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["managed_keys.key_id"],
            name="fk_managed_key_versions_key_id_managed_keys",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "tenant_secrets",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("consumers", sa.Text, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_tenant_secrets"),
    )
    op.create_table(
        "tenant_secret_versions",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("expires_at", True),
        sa.PrimaryKeyConstraint("tenant_id", "name", "version", name="pk_tenant_secret_versions"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "name"],
            ["tenant_secrets.tenant_id", "tenant_secrets.name"],
            name="fk_tenant_secret_versions_tenant_id_tenant_secrets",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "secret_sources",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("sealed_config", sa.LargeBinary, nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_secret_sources"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_security(_app_role())


def _postgres_security(role: str) -> None:
    # 0002 set default privileges for tables its role creates; grant explicitly as well, in case this
    # migration runs as another role.
    tables = ", ".join(ALL_TABLES)
    op.execute(f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role};
  END IF;
END $$;
""")  # noqa: S608 (the role name is validated by _app_role)
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (tenant_id = current_setting('app.tenant_id', true)) "
            f"WITH CHECK (tenant_id = current_setting('app.tenant_id', true))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    for table in (
        "secret_sources",
        "tenant_secret_versions",
        "tenant_secrets",
        "managed_key_versions",
        "managed_keys",
        "key_sealed_records",
    ):
        op.drop_table(table)
