"""Confidential compute: artefacts, tenants' functions (RLS) and runs (RLS), the function owner index,
and on-chain request payloads.

Revision ID: 0012_compute
Revises: 0011_native_oracle_signatures
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0012_compute"
down_revision: str | None = "0011_native_oracle_signatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("compute_functions", "compute_runs")
SHARED_TABLES = ("compute_artifacts", "compute_function_owners", "compute_requests")


def upgrade() -> None:
    op.create_table(
        "compute_artifacts",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_compute_artifacts"),
    )
    op.create_table(
        "compute_functions",
        sa.Column("function_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("limits", sa.Text, nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        sa.Column("on_chain", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("function_id", name="pk_compute_functions"),
    )
    op.create_index("ix_compute_functions_tenant", "compute_functions", ["tenant_id", "function_id"])
    op.create_table(
        "compute_function_owners",
        sa.Column("function_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("function_id", name="pk_compute_function_owners"),
    )
    op.create_table(
        "compute_runs",
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("function_id", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("result", sa.LargeBinary, nullable=False),
        sa.Column("fuel_used", sa.BigInteger, nullable=False),
        sa.Column("wall_ms", sa.Integer, nullable=False),
        sa.Column("fetches", sa.Integer, nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("key_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_compute_runs"),
    )
    op.create_index("ix_compute_runs_function", "compute_runs", ["tenant_id", "function_id", "created_at"])
    op.create_table(
        "compute_requests",
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("request_id", sa.BigInteger, nullable=False),
        sa.Column("function_id", sa.String(64), nullable=False),
        sa.Column("args", sa.LargeBinary, nullable=False),
        sa.Column("result_code", sa.Integer, nullable=True),
        sa.Column("result", sa.LargeBinary, nullable=True),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=True),
        sa.Column("function_hash", sa.LargeBinary, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("contract", "request_id", name="pk_compute_requests"),
    )
    grant_to_app_role((*TENANT_TABLES, *SHARED_TABLES))
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                "USING (tenant_id = current_setting('app.tenant_id', true)) "
                "WITH CHECK (tenant_id = current_setting('app.tenant_id', true))"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.drop_table("compute_requests")
    op.drop_index("ix_compute_runs_function", table_name="compute_runs")
    op.drop_table("compute_runs")
    op.drop_table("compute_function_owners")
    op.drop_index("ix_compute_functions_tenant", table_name="compute_functions")
    op.drop_table("compute_functions")
    op.drop_table("compute_artifacts")
