"""Tenant jobs calling a contract: the job's sealed grant (the enclave's reading of the one call its key
signs), and per run the transaction recorded before it is sent (hash, bytes, last valid block) and
where it landed (block, GAS burnt).

Revision ID: 0014_automation_job_calls
Revises: 0013_automation_job_triggers
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_automation_job_calls"
down_revision: str | None = "0013_automation_job_triggers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("automation_jobs") as batch:
        batch.add_column(sa.Column("grant_sealed", sa.LargeBinary, nullable=True))
    with op.batch_alter_table("automation_job_runs") as batch:
        batch.add_column(sa.Column("call_tx_hash", sa.String(66), nullable=True))
        batch.add_column(sa.Column("call_tx_raw", sa.LargeBinary, nullable=True))
        batch.add_column(sa.Column("call_valid_until", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("call_block", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("call_gas", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("automation_job_runs") as batch:
        for column in ("call_gas", "call_block", "call_valid_until", "call_tx_raw", "call_tx_hash"):
            batch.drop_column(column)
    with op.batch_alter_table("automation_jobs") as batch:
        batch.drop_column("grant_sealed")
