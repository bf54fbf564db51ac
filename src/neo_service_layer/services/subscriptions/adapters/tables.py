"""Tables of the subscriptions service (SQLAlchemy Core, on the shared ``metadata``); the outbox tables
are the kernel's (``kernel.events.adapters``).

- ``subscriptions`` (tenant data, RLS): type patterns, channel, the webhook URL or e-mail address and
  the Standard Webhooks secrets sealed under ``NSL_JWT_KEK`` (label
  ``subscription-webhook:<tenant>:<subscription>``; the previous one kept until ``previous_until``
  during a rotation), the first event id it gets (``start_event``);
- ``subscription_index`` (no RLS: ids and states): which tenant owns it, its kind and state;
- ``subscription_deliveries`` (no RLS: ids, numbers, statuses): one row per (subscription, event), the
  primary key that makes a pair delivered once whatever the number of relays;
- ``subscription_relay_cursors`` (no RLS): per tenant, the last event id the relay fanned out.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from neo_service_layer.kernel.db.tables import metadata

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("types", Text, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("url", Text, nullable=True),
    #: the e-mail channel's address (migration 0017)
    Column("email", String(254), nullable=True),
    Column("secret_sealed", LargeBinary, nullable=True),
    Column("previous_sealed", LargeBinary, nullable=True),
    Column("previous_until", BigInteger, nullable=True),
    Column("start_event", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("subscription_id", name="pk_subscriptions"),
)

subscription_index = Table(
    "subscription_index",
    metadata,
    Column("subscription_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("state", String(8), nullable=False),
    Column("reason", Text, nullable=True),
    PrimaryKeyConstraint("subscription_id", name="pk_subscription_index"),
)

subscription_deliveries = Table(
    "subscription_deliveries",
    metadata,
    Column("subscription_id", String(40), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("first_attempt_at", Float, nullable=True),
    Column("next_at", Float, nullable=False),
    Column("worker", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("subscription_id", "event_id", name="pk_subscription_deliveries"),
    #: a subscription's head (its lowest pending event id) without reading its finished rows
    Index("ix_subscription_deliveries_head", "subscription_id", "status", "event_id"),
)

subscription_relay_cursors = Table(
    "subscription_relay_cursors",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", name="pk_subscription_relay_cursors"),
)

#: a ``chain.notification`` or transfer subscription's filter (no RLS: the scanner reads every tenant's;
#: API reads filter by tenant), the block after which it sees events and the chain whose scanner reads
#: it (``source``, migration 0022)
subscription_chain_filters = Table(
    "subscription_chain_filters",
    metadata,
    Column("subscription_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("contract", String(42), nullable=False),
    Column("filter", Text, nullable=False),
    Column("start_block", BigInteger, nullable=False),
    Column("source", String(16), nullable=False, server_default="n3"),
    PrimaryKeyConstraint("subscription_id", name="pk_subscription_chain_filters"),
    #: each scanner reads its own chain's watches
    Index("ix_subscription_chain_filters_source", "source", "start_block"),
)

#: the chain scanners' durable cursors: the last block each read (one row per ``source``: ``n3``,
#: ``neox``)
subscription_chain_cursor = Table(
    "subscription_chain_cursor",
    metadata,
    Column("source", String(16), nullable=False),
    Column("block", BigInteger, nullable=False),
    PrimaryKeyConstraint("source", name="pk_subscription_chain_cursor"),
)
