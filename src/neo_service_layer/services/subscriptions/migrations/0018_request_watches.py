"""The on-chain request source of subscriptions: ``request_watches`` (a subscription's consumer
contract and optional service; no RLS: the chain pipeline reads every tenant's watches when it moves
requests, API reads filter by tenant). The table is the kernel's (``kernel.events.watches``), like
the outbox tables this service's first migration created.

Revision ID: 0018_request_watches
Revises: 0017_subscription_email
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0018_request_watches"
down_revision: str | None = "0017_subscription_email"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_watches",
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("consumer", sa.String(42), nullable=False),
        sa.Column("service", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_request_watches"),
    )
    op.create_index("ix_request_watches_consumer", "request_watches", ["consumer"])
    grant_to_app_role(("request_watches",))


def downgrade() -> None:
    op.drop_index("ix_request_watches_consumer", table_name="request_watches")
    op.drop_table("request_watches")
