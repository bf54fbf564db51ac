"""``crosschain_messages``: the cross-chain messages the relaying service saw and how far each got. No
RLS: public on-chain data only.

Revision ID: 0021_crosschain_messages
Revises: 0020_key_rotation_notices
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0021_crosschain_messages"
down_revision: str | None = "0020_key_rotation_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "crosschain_messages",
        sa.Column("src_chain", sa.String(24), nullable=False),
        sa.Column("nonce", sa.BigInteger, nullable=False),
        sa.Column("dest_chain", sa.String(24), nullable=False),
        sa.Column("sender", sa.String(40), nullable=False),
        sa.Column("receiver", sa.String(40), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("gas_limit", sa.BigInteger, nullable=False),
        sa.Column("fee", sa.String(80), nullable=False),
        sa.Column("src_block", sa.BigInteger, nullable=False),
        sa.Column("src_tx", sa.String(66), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", ts, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("deliver_tx", sa.String(66), nullable=True),
        sa.Column("dest_block", sa.BigInteger, nullable=True),
        sa.Column("dest_tx", sa.String(66), nullable=True),
        sa.Column("result", sa.LargeBinary, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("receipt_status", sa.String(16), nullable=False),
        sa.Column("receipt_attempt", sa.Integer, nullable=False),
        sa.Column("receipt_tx", sa.String(66), nullable=True),
        sa.Column("receipt_block", sa.BigInteger, nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("src_chain", "nonce", name="pk_crosschain_messages"),
    )
    op.create_index("ix_crosschain_messages_sender", "crosschain_messages", ["src_chain", "sender", "nonce"])
    op.create_index("ix_crosschain_messages_status", "crosschain_messages", ["dest_chain", "status"])
    op.create_index("ix_crosschain_messages_receipt", "crosschain_messages", ["src_chain", "receipt_status"])
    grant_to_app_role(("crosschain_messages",))


def downgrade() -> None:
    op.drop_table("crosschain_messages")
