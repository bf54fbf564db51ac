"""Table definitions (SQLAlchemy Core). Each area adds its tables to ``metadata`` in its own module.

Every tenant-owned table has a ``tenant_id`` column; PostgreSQL migrations add row-level security
policies on those tables (see ``migrations``).
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

worker_heartbeats = Table(
    "worker_heartbeats",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
)
