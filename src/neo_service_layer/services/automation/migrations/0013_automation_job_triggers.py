"""Tenant jobs on block triggers (event, condition): the block of a run, its transaction, body
additions and due time; the index's watched kind and start block; the block scanner's cursor; an
index of finished runs for the clean-up.

Revision ID: 0013_automation_job_triggers
Revises: 0012_compute
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0013_automation_job_triggers"
down_revision: str | None = "0012_compute"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("automation_job_runs") as batch:
        batch.add_column(sa.Column("block", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("tx_hash", sa.String(66), nullable=True))
        batch.add_column(sa.Column("payload", sa.Text, nullable=True))
        batch.add_column(sa.Column("due_at", sa.BigInteger, nullable=True))
    op.create_index("ix_automation_job_runs_finished", "automation_job_runs", ["tenant_id", "finished_at"])
    with op.batch_alter_table("automation_job_index") as batch:
        batch.add_column(sa.Column("watch", sa.String(12), nullable=True))
        batch.add_column(sa.Column("since_block", sa.BigInteger, nullable=True))
    op.create_index("ix_automation_job_index_watch", "automation_job_index", ["watch", "state"])
    op.create_table(
        "automation_job_scan",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_automation_job_scan"),
    )
    grant_to_app_role(("automation_job_scan",))


def downgrade() -> None:
    op.drop_table("automation_job_scan")
    op.drop_index("ix_automation_job_index_watch", table_name="automation_job_index")
    with op.batch_alter_table("automation_job_index") as batch:
        batch.drop_column("since_block")
        batch.drop_column("watch")
    op.drop_index("ix_automation_job_runs_finished", table_name="automation_job_runs")
    with op.batch_alter_table("automation_job_runs") as batch:
        batch.drop_column("due_at")
        batch.drop_column("payload")
        batch.drop_column("tx_hash")
        batch.drop_column("block")
