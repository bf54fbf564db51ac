"""An index for the newest-first list of cross-chain messages (``GET /crosschain/recent``), which sorts
and pages on ``(created_at, src_chain, nonce)``: without it every page reads and sorts the whole table.

Revision ID: 0024_crosschain_messages_seen
Revises: 0023_idempotency_keys
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024_crosschain_messages_seen"
down_revision: str | None = "0023_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_crosschain_messages_seen", "crosschain_messages", ["created_at", "src_chain", "nonce"]
    )


def downgrade() -> None:
    op.drop_index("ix_crosschain_messages_seen", table_name="crosschain_messages")
