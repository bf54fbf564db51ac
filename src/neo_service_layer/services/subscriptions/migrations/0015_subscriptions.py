"""Tenant events and subscriptions: the outbox producers write in their own transaction
(``tenant_events``, RLS; ``tenant_event_heads``: each tenant's last event id), the tenant's
subscriptions (``subscriptions``, RLS: type patterns, channel, sealed webhook secrets), and what the
worker reads without a tenant: ``subscription_index`` (state), ``subscription_deliveries`` (one row per
subscription and event: attempts, status, next retry, lease) and ``subscription_relay_cursors``.

Revision ID: 0015_subscriptions
Revises: 0014_automation_job_calls
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from neo_service_layer.kernel.db.migration_grants import grant_to_app_role

revision: str = "0015_subscriptions"
down_revision: str | None = "0014_automation_job_calls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("tenant_events", "subscriptions")
WORKER_TABLES = (
    "tenant_event_heads",
    "subscription_index",
    "subscription_deliveries",
    "subscription_relay_cursors",
)


def upgrade() -> None:
    op.create_table(
        "tenant_events",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", name="pk_tenant_events"),
    )
    op.create_table(
        "tenant_event_heads",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_event_heads"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("types", sa.Text, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=True),
        sa.Column("previous_sealed", sa.LargeBinary, nullable=True),
        sa.Column("previous_until", sa.BigInteger, nullable=True),
        sa.Column("start_event", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_tenant", "subscriptions", ["tenant_id", "subscription_id"])
    op.create_table(
        "subscription_index",
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_subscription_index"),
    )
    op.create_table(
        "subscription_deliveries",
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_attempt_at", sa.Float, nullable=True),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.Column("worker", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subscription_id", "event_id", name="pk_subscription_deliveries"),
    )
    op.create_index(
        "ix_subscription_deliveries_status",
        "subscription_deliveries",
        ["status", "subscription_id", "event_id"],
    )
    op.create_table(
        "subscription_relay_cursors",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_subscription_relay_cursors"),
    )
    grant_to_app_role((*TENANT_TABLES, *WORKER_TABLES))
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                "USING (tenant_id = current_setting('app.tenant_id', true)) "
                "WITH CHECK (tenant_id = current_setting('app.tenant_id', true))"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.drop_table("subscription_relay_cursors")
    op.drop_index("ix_subscription_deliveries_status", table_name="subscription_deliveries")
    op.drop_table("subscription_deliveries")
    op.drop_table("subscription_index")
    op.drop_index("ix_subscriptions_tenant", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("tenant_event_heads")
    op.drop_table("tenant_events")
