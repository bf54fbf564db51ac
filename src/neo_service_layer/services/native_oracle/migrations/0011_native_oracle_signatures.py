"""The native Oracle node's gathered signatures: ``native_oracle_signatures`` and
``native_oracle_pending``.

Revision ID: 0011_native_oracle_signatures
Revises: 0010_automation_jobs
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0011_native_oracle_signatures"
down_revision: str | None = "0010_automation_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "native_oracle_signatures",
        sa.Column("request_id", sa.BigInteger, nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "public_key", "signature", name="pk_native_oracle_signatures"),
    )
    op.create_table(
        "native_oracle_pending",
        sa.Column("request_id", sa.BigInteger, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("valid_until_block", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_native_oracle_pending"),
    )
    op.create_index("ix_native_oracle_signatures_received_at", "native_oracle_signatures", ["received_at"])
    op.create_index("ix_native_oracle_pending_updated_at", "native_oracle_pending", ["updated_at"])
    grant_to_app_role(("native_oracle_signatures", "native_oracle_pending"))


def downgrade() -> None:
    op.drop_table("native_oracle_pending")
    op.drop_table("native_oracle_signatures")
