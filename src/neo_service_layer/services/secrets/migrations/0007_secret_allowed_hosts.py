"""Tenant secrets get pinned hosts: ``tenant_secrets.allowed_hosts``.

Revision ID: 0007_secret_allowed_hosts
Revises: 0006_request_payloads
Create Date: 2026-12-02

The hosts the oracle may send a secret to (space-separated, canonical host names). The list is also
sealed by the enclave together with each new version's value, and the enclave enforces the sealed copy;
this column is the metadata the API shows. Existing secrets get no host: the oracle cannot send them
anywhere until the tenant stores a new version with ``allowed_hosts``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_secret_allowed_hosts"
down_revision: str | None = "0006_request_payloads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenant_secrets") as batch:
        batch.add_column(sa.Column("allowed_hosts", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("tenant_secrets") as batch:
        batch.drop_column("allowed_hosts")
