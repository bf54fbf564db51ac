"""An index for a subscription's head: its pending delivery with the lowest event id, looked up at each
claim (``subscription_id``, ``status``, ``event_id``) without reading the delivered rows before it.

Revision ID: 0019_subscription_delivery_heads
Revises: 0018_request_watches
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019_subscription_delivery_heads"
down_revision: str | None = "0018_request_watches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_subscription_deliveries_head",
        "subscription_deliveries",
        ["subscription_id", "status", "event_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_subscription_deliveries_head", table_name="subscription_deliveries")
