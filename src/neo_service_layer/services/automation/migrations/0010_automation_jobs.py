"""Tenant jobs over the API: ``automation_jobs`` and ``automation_job_runs`` (tenant data, row-level
security) and ``automation_job_index`` (ids and times the worker reads without a tenant).

Revision ID: 0010_automation_jobs
Revises: 0009_automation
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0010_automation_jobs"
down_revision: str | None = "0009_automation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("automation_jobs", "automation_job_runs")


def upgrade() -> None:
    op.create_table(
        "automation_jobs",
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("catch_up", sa.String(8), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("anchor", sa.BigInteger, nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_automation_jobs"),
    )
    op.create_index("ix_automation_jobs_tenant", "automation_jobs", ["tenant_id", "created_at"])
    op.create_table(
        "automation_job_runs",
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("occurrence", sa.BigInteger, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("worker", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("retry_at", sa.BigInteger, nullable=True),
        sa.Column("http_status", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "occurrence", name="pk_automation_job_runs"),
    )
    op.create_table(
        "automation_job_index",
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("scanned", sa.BigInteger, nullable=False),
        sa.Column("wake_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("job_id", name="pk_automation_job_index"),
    )
    op.create_index("ix_automation_job_index_wake", "automation_job_index", ["state", "wake_at"])
    grant_to_app_role((*TENANT_TABLES, "automation_job_index"))
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
    op.drop_index("ix_automation_job_index_wake", table_name="automation_job_index")
    op.drop_table("automation_job_index")
    op.drop_table("automation_job_runs")
    op.drop_index("ix_automation_jobs_tenant", table_name="automation_jobs")
    op.drop_table("automation_jobs")
