"""``key_rotation_notices``: which key versions were announced as due for rotation (a
``key.rotation_due`` tenant event), so each version is announced once. No RLS: ids and versions only;
the worker's job writes it for every tenant.

Revision ID: 0020_key_rotation_notices
Revises: 0019_subscription_delivery_heads
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0020_key_rotation_notices"
down_revision: str | None = "0019_subscription_delivery_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_rotation_notices",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", "version", name="pk_key_rotation_notices"),
    )
    grant_to_app_role(("key_rotation_notices",))


def downgrade() -> None:
    op.drop_table("key_rotation_notices")
