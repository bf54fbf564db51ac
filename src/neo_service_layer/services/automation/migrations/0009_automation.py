"""The automation service's tables: ``automation_upkeeps`` and ``automation_runs``.

Revision ID: 0009_automation
Revises: 0008_chain_faults
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0009_automation"
down_revision: str | None = "0008_chain_faults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_upkeeps",
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("upkeep_id", sa.BigInteger, nullable=False),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("target", sa.String(42), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("gas_limit", sa.BigInteger, nullable=False),
        sa.Column("catch_up", sa.String(8), nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("since_seconds", sa.BigInteger, nullable=False),
        sa.Column("since_block", sa.BigInteger, nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("invalid", sa.Text, nullable=True),
        sa.Column("read_block", sa.BigInteger, nullable=False),
        sa.Column("skip_reason", sa.String(32), nullable=True),
        sa.Column("skip_occurrence", sa.BigInteger, nullable=True),
        sa.Column("skipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skips", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("contract", "upkeep_id", name="pk_automation_upkeeps"),
    )
    op.create_table(
        "automation_runs",
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("request_id", sa.BigInteger, nullable=False),
        sa.Column("upkeep_id", sa.BigInteger, nullable=False),
        sa.Column("occurrence", sa.BigInteger, nullable=False),
        sa.Column("due_block", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("faults", sa.Integer, nullable=False, server_default="0"),
        sa.Column("gas_used", sa.BigInteger, nullable=True),
        sa.Column("charged", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("contract", "request_id", name="pk_automation_runs"),
    )
    op.create_index("ix_automation_runs_upkeep", "automation_runs", ["contract", "upkeep_id", "occurrence"])
    grant_to_app_role(("automation_upkeeps", "automation_runs"))


def downgrade() -> None:
    op.drop_index("ix_automation_runs_upkeep", table_name="automation_runs")
    op.drop_table("automation_runs")
    op.drop_table("automation_upkeeps")
