"""Tables of the oracle service: on-chain requests' payloads and tenants' request templates.

- ``oracle_requests``: per on-chain request (the pipeline's row in ``chain_requests``, same contract and
  request id), the URL and filter it asked and the answer last written to the outbox (result code,
  result, the fetch time the enclave signed; ``NULL`` before the first). Public on-chain data: no RLS.

- ``oracle_templates``: tenant data (row-level security on PostgreSQL like every tenant table): the
  fetch spec as JSON (secrets referenced by name only, never values), allowed consumers, description.
- ``oracle_template_owners``: template id -> tenant, without RLS, so that the worker, which sees only
  ``nsl://template/<id>`` on chain, learns which tenant to act for before reading the template itself.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from neo_service_layer.kernel.db.tables import metadata

oracle_requests = Table(
    "oracle_requests",
    metadata,
    Column("contract", String(42), nullable=False),
    Column("request_id", BigInteger, nullable=False),
    Column("url", Text, nullable=False),
    Column("filter", Text, nullable=False),
    Column("result_code", Integer, nullable=True),
    Column("result", LargeBinary, nullable=True),
    Column("timestamp_ms", BigInteger, nullable=True),
    PrimaryKeyConstraint("contract", "request_id", name="pk_oracle_requests"),
)

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
