"""Chain machinery: watcher cursors, on-chain requests, the fulfilment outbox, service key roles.

Revision ID: 0004_chain
Revises: 0003_keys_secrets
Create Date: 2026-11-26
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_chain"
down_revision: str | None = "0003_keys_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("chain_cursors", "chain_requests", "chain_outbox", "chain_service_keys")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _app_role() -> str:
    from neo_service_layer.kernel.config import ConfigurationError, load_settings

    try:
        role = load_settings().db_app_role or "nsl_app"
    except ConfigurationError:
        role = "nsl_app"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"NSL_DB_APP_ROLE {role!r}: lowercase letters, digits and '_' only")
    return role


def upgrade() -> None:
    op.create_table(
        "chain_cursors",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("block_index", sa.BigInteger, nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("name", name="pk_chain_cursors"),
    )
    op.create_table(
        "chain_requests",
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("request_id", sa.BigInteger, nullable=False),
        sa.Column("consumer", sa.String(42), nullable=False),
        sa.Column("num_words", sa.Integer, nullable=False),
        sa.Column("seed", sa.LargeBinary, nullable=False),
        sa.Column("request_block", sa.BigInteger, nullable=False),
        sa.Column("request_tx", sa.String(66), nullable=False),
        _ts("request_time", True),
        _ts("seen_at"),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        _ts("lease_until", True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("with_delivery", sa.Boolean, nullable=True),
        sa.Column("output", sa.LargeBinary, nullable=True),
        sa.Column("proof", sa.LargeBinary, nullable=True),
        sa.Column("fulfilled_block", sa.BigInteger, nullable=True),
        sa.Column("fulfilled_tx", sa.String(66), nullable=True),
        _ts("fulfilled_time", True),
        sa.Column("delivered_block", sa.BigInteger, nullable=True),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("callback_failure", sa.Text, nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("service", "contract", "request_id", name="pk_chain_requests"),
    )
    op.create_index("ix_chain_requests_status", "chain_requests", ["status"])
    op.create_index("ix_chain_requests_tx_hash", "chain_requests", ["tx_hash"])
    op.create_table(
        "chain_outbox",
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("valid_until_block", sa.BigInteger, nullable=False),
        sa.Column("system_fee", sa.BigInteger, nullable=False),
        sa.Column("network_fee", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("send_count", sa.Integer, nullable=False, server_default="0"),
        _ts("created_at"),
        _ts("last_sent_at", True),
        sa.Column("included_block", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("tx_hash", name="pk_chain_outbox"),
    )
    op.create_index("ix_chain_outbox_status", "chain_outbox", ["status"])
    op.create_table(
        "chain_service_keys",
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("role", name="pk_chain_service_keys"),
    )
    if op.get_bind().dialect.name == "postgresql":
        role = _app_role()
        op.execute(f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(TABLES)} TO {role};
  END IF;
END $$;
""")  # noqa: S608 (the role name is validated by _app_role)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
