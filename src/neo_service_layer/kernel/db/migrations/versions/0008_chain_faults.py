"""On-chain faults are counted per request: ``chain_requests.chain_faults``.

Revision ID: 0008_chain_faults
Revises: 0007_secret_allowed_hosts
Create Date: 2026-12-02

How many of a request's fulfilment transactions were included but FAULTed on chain (an expired
transaction does not count). A request that faulted once is never batched with other requests again,
and after a fault without its callback it is marked failed instead of being retried forever.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_chain_faults"
down_revision: str | None = "0007_secret_allowed_hosts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chain_requests") as batch:
        batch.add_column(sa.Column("chain_faults", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("chain_requests") as batch:
        batch.drop_column("chain_faults")
