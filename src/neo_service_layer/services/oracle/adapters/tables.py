"""Tables of the oracle service: tenants' request templates.

- ``oracle_templates``: tenant data (row-level security on PostgreSQL like every tenant table): the
  fetch spec as JSON (secrets referenced by name only, never values), allowed consumers, description.
- ``oracle_template_owners``: template id -> tenant, without RLS, so that the worker, which sees only
  ``nsl://template/<id>`` on chain, learns which tenant to act for before reading the template itself.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, PrimaryKeyConstraint, String, Table, Text

from neo_service_layer.kernel.db.tables import metadata

oracle_templates = Table(
    "oracle_templates",
    metadata,
    Column("template_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("spec", Text, nullable=False),
    Column("allowed_consumers", Text, nullable=False),
    Column("description", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("template_id", name="pk_oracle_templates"),
)

oracle_template_owners = Table(
    "oracle_template_owners",
    metadata,
    Column("template_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    PrimaryKeyConstraint("template_id", name="pk_oracle_template_owners"),
)
