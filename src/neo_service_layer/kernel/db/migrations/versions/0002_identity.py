"""Identity and access: tenants, users, memberships, API keys, tokens, signing keys, audit log.

On PostgreSQL also the second wall of tenant isolation:
- the application role (``NSL_DB_APP_ROLE``, default ``nsl_app``; created NOLOGIN NOBYPASSRLS when the
  migrating role may create roles) gets only DML on the tables (SELECT + INSERT on ``audit_events``:
  the audit log is append-only for the application; SELECT on ``alembic_version``);
- every tenant table has row-level security, FORCEd, with the policy
  ``tenant_id = current_setting('app.tenant_id', true)`` (set per transaction by the unit of work);
- three narrow SELECT-only policies serve the look-ups that happen before the tenant is known:
  a user's own memberships (``app.user_id``), one API key by its public prefix (``app.api_key_prefix``)
  and one refresh token by its hash (``app.refresh_token_hash``). The repositories set these settings,
  transaction-local, immediately before that one query.

Revision ID: 0002_identity
Revises: 0001_foundation
Create Date: 2026-11-24
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002_identity"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLATFORM_TENANT = "_platform"
TENANT_TABLES = (
    "memberships",
    "api_keys",
    "refresh_tokens",
    "revoked_tokens",
    "audit_events",
    "audit_chain_heads",
)
LOOKUP_POLICIES = (
    ("memberships", "own_memberships", "user_id", "app.user_id"),
    ("api_keys", "api_key_lookup", "prefix", "app.api_key_prefix"),
    ("refresh_tokens", "refresh_token_lookup", "token_hash", "app.refresh_token_hash"),
)


def _app_role() -> str:
    """``NSL_DB_APP_ROLE`` as the application reads it (environment or TOML file), else ``nsl_app``."""
    from neo_service_layer.kernel.config import ConfigurationError, load_settings

    try:
        role = load_settings().db_app_role or "nsl_app"
    except ConfigurationError:
        role = os.environ.get("NSL_DB_APP_ROLE") or "nsl_app"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"NSL_DB_APP_ROLE {role!r}: lowercase letters, digits and '_' only")
    return role


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("username_key", sa.String(128), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_superadmin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("totp_secret", sa.LargeBinary, nullable=True),
        sa.Column("totp_pending", sa.LargeBinary, nullable=True),
        sa.Column("totp_last_step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username_key", name="uq_users_username_key"),
    )
    op.create_table(
        "user_backup_codes",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "code_hash", name="pk_user_backup_codes"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_backup_codes_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "memberships",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_memberships"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_memberships_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_memberships_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=True),
        sa.Column("last_used_at", _ts(), nullable=True),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_api_keys_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("family_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.Column("rotated_at", _ts(), nullable=True),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_refresh_tokens_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_refresh_tokens_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_refresh_tokens_tenant_id_family_id", "refresh_tokens", ["tenant_id", "family_id"])
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_revoked_tokens"),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_failure_at", _ts(), nullable=True),
        sa.Column("locked_until", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttle"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary, nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("retired_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
    )
    op.create_table(
        "audit_chain_heads",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_audit_chain_heads"),
    )
    op.create_table(
        "audit_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", _ts(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        sa.UniqueConstraint("tenant_id", "seq", name="uq_audit_events_tenant_id_seq"),
    )
    op.create_index("ix_audit_events_tenant_id_action", "audit_events", ["tenant_id", "action"])
    op.create_index("ix_audit_events_tenant_id_occurred_at", "audit_events", ["tenant_id", "occurred_at"])

    tenants = sa.table(
        "tenants",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("plan", sa.String),
        sa.column("active", sa.Boolean),
        sa.column("created_at", _ts()),
    )
    op.bulk_insert(
        tenants,
        [
            {
                "id": PLATFORM_TENANT,
                "name": PLATFORM_TENANT,
                "plan": "platform",
                "active": True,
                "created_at": datetime.now(UTC),
            }
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_security(_app_role())


def _postgres_security(role: str) -> None:
    op.execute(f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
      BEGIN
        CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- created concurrently by another migration of this cluster
      END;
    ELSE
      RAISE NOTICE 'role {role} does not exist and % may not create it; create it, then re-grant', current_user;
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO {role}', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {role}', current_schema());
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {role}', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO {role}', current_schema());
    REVOKE ALL ON alembic_version FROM {role};
    GRANT SELECT ON alembic_version TO {role};
    REVOKE UPDATE, DELETE ON audit_events FROM {role};
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      BEGIN
        EXECUTE format('GRANT {role} TO %I', current_user);  -- lets the owner SET ROLE {role}
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'could not grant {role} to %; the application must log in as {role}', current_user;
      END;
    END IF;
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
    for table, name, column, setting in LOOKUP_POLICIES:
        op.execute(
            f"CREATE POLICY {name} ON {table} FOR SELECT USING ({column} = current_setting('{setting}', true))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name, _, _ in LOOKUP_POLICIES:
            op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
        for table in TENANT_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    for table in (
        "audit_events",
        "audit_chain_heads",
        "signing_keys",
        "login_throttle",
        "revoked_tokens",
        "refresh_tokens",
        "api_keys",
        "memberships",
        "user_backup_codes",
        "users",
        "tenants",
    ):
        op.drop_table(table)
