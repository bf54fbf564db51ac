"""Alembic environment: runs on the connection handed over by ``migrate.py`` (SQLite or PostgreSQL)."""

from __future__ import annotations

from alembic import context

from neo_service_layer.kernel.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `nsl migrate`, which provides the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
