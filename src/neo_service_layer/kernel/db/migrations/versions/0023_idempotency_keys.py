"""``idempotency_keys``: the claimed ``Idempotency-Key`` of a POST and, once it completed, the response a
repeat gets (docs/architecture.md, "Idempotency keys"). Tenant data: on PostgreSQL row-level security,
FORCEd, with the ``tenant_isolation`` policy of the other tenant tables; granted to the application role.

Revision ID: 0023_idempotency_keys
Revises: 0022_subscription_chain_sources
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0023_idempotency_keys"
down_revision: str | None = "0022_subscription_chain_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "idempotency_keys"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("scope_digest", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claim_token", sa.String(32), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("headers", sa.Text, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("resource_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "scope_digest", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_tenant_id_expires_at", TABLE, ["tenant_id", "expires_at"])
    grant_to_app_role((TABLE,))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {TABLE} "
            "USING (tenant_id = current_setting('app.tenant_id', true)) "
            "WITH CHECK (tenant_id = current_setting('app.tenant_id', true))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {TABLE}")
    op.drop_index("ix_idempotency_keys_tenant_id_expires_at", table_name=TABLE)
    op.drop_table(TABLE)
