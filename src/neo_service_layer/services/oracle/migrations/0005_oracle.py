"""Oracle request templates (tenant data with RLS) and their owner index.

Revision ID: 0005_oracle
Revises: 0004_chain
Create Date: 2026-11-27
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_oracle"
down_revision: str | None = "0004_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("oracle_templates", "oracle_template_owners")


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
        "oracle_templates",
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("allowed_consumers", sa.Text, nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("template_id", name="pk_oracle_templates"),
    )
    op.create_table(
        "oracle_template_owners",
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("template_id", name="pk_oracle_template_owners"),
    )
    if op.get_bind().dialect.name == "postgresql":
        role = _app_role()
        op.execute(f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(TABLES)} TO {role};
  END IF;
END $$;
""")  # noqa: S608 (the role name is validated by _app_role)
        op.execute("ALTER TABLE oracle_templates ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE oracle_templates FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON oracle_templates "
            "USING (tenant_id = current_setting('app.tenant_id', true)) "
            "WITH CHECK (tenant_id = current_setting('app.tenant_id', true))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS tenant_isolation ON oracle_templates")
    for table in reversed(TABLES):
        op.drop_table(table)
