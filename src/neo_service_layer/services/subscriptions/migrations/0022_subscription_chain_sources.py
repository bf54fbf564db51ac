"""Transfer watches on Neo X: ``subscription_chain_filters.source``, the chain whose scanner reads a
watch (``n3``, the default: every existing row; ``neox``), indexed with the start block as each scanner
selects its own. The cursor table is already keyed by source (one row per chain). The table keeps no
RLS, as before: the scanners read every tenant's filters and the API filters by tenant.

Revision ID: 0022_subscription_chain_sources
Revises: 0021_crosschain_messages
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_subscription_chain_sources"
down_revision: str | None = "0021_crosschain_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table, PostgreSQL alters it in place (grants stay)
    with op.batch_alter_table("subscription_chain_filters") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="n3"))
    op.create_index(
        "ix_subscription_chain_filters_source", "subscription_chain_filters", ["source", "start_block"]
    )


def downgrade() -> None:
    op.drop_index("ix_subscription_chain_filters_source", table_name="subscription_chain_filters")
    with op.batch_alter_table("subscription_chain_filters") as batch:
        batch.drop_column("source")
