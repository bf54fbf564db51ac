"""The N3 contract notification source of subscriptions: ``subscription_chain_filters`` (a
chain-filtered subscription's contract, filter and start block; no RLS: the scanner reads every
tenant's, API reads filter by tenant) and ``subscription_chain_cursor`` (the scanner's last block).

Revision ID: 0016_subscription_chain
Revises: 0015_subscriptions
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0016_subscription_chain"
down_revision: str | None = "0015_subscriptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscription_chain_filters",
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("filter", sa.Text, nullable=False),
        sa.Column("start_block", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_subscription_chain_filters"),
    )
    op.create_table(
        "subscription_chain_cursor",
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_subscription_chain_cursor"),
    )
    grant_to_app_role(("subscription_chain_filters", "subscription_chain_cursor"))


def downgrade() -> None:
    op.drop_table("subscription_chain_cursor")
    op.drop_table("subscription_chain_filters")
