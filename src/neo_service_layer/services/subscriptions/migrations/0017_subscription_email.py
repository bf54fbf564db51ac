"""The e-mail channel of subscriptions: ``subscriptions.email`` (the address a subscription of kind
``email`` sends to; tenant data under the table's row-level security). The kind itself fits the
existing ``kind`` columns (``email``).

Revision ID: 0017_subscription_email
Revises: 0016_subscription_chain
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_subscription_email"
down_revision: str | None = "0016_subscription_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table, PostgreSQL alters it in place (grants and policies stay)
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("email")
