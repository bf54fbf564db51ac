"""Tables of the compute service.

- ``compute_artifacts``: artefacts by SHA-256 (content-addressed, immutable, shared: the same bytes
  uploaded twice are stored once; reached only through a tenant's function). No RLS.
- ``compute_functions``: tenant data (row-level security on PostgreSQL): name, language, artefact
  digest, limits, granted secret names (never values), on-chain flag.
- ``compute_function_owners``: function id -> tenant, without RLS, so the worker, which sees only the
  function id on chain, learns which tenant to act for before reading the function itself.
- ``compute_runs``: tenant data (RLS): each off-chain run with its outcome and receipt signature.
- ``compute_requests``: per on-chain request (the pipeline's row in ``chain_requests``), the function id
  and args it asked and the answer last written to the outbox. Public on-chain data: no RLS.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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

compute_artifacts = Table(
    "compute_artifacts",
    metadata,
    Column("digest", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("digest", name="pk_compute_artifacts"),
)

compute_functions = Table(
    "compute_functions",
    metadata,
    Column("function_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("language", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("limits", Text, nullable=False),
    Column("secrets", Text, nullable=False),
    Column("on_chain", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("function_id", name="pk_compute_functions"),
)

compute_function_owners = Table(
    "compute_function_owners",
    metadata,
    Column("function_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    PrimaryKeyConstraint("function_id", name="pk_compute_function_owners"),
)

compute_runs = Table(
    "compute_runs",
    metadata,
    Column("run_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("function_id", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("input_sha256", String(64), nullable=False),
    Column("code", Integer, nullable=False),
    Column("detail", Text, nullable=False),
    Column("result", LargeBinary, nullable=False),
    Column("fuel_used", BigInteger, nullable=False),
    Column("wall_ms", Integer, nullable=False),
    Column("fetches", Integer, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("run_id", name="pk_compute_runs"),
)

compute_requests = Table(
    "compute_requests",
    metadata,
    Column("contract", String(42), nullable=False),
    Column("request_id", BigInteger, nullable=False),
    Column("function_id", String(64), nullable=False),
    Column("args", LargeBinary, nullable=False),
    Column("result_code", Integer, nullable=True),
    Column("result", LargeBinary, nullable=True),
    Column("timestamp_ms", BigInteger, nullable=True),
    Column("function_hash", LargeBinary, nullable=True),
    Column("detail", Text, nullable=True),
    PrimaryKeyConstraint("contract", "request_id", name="pk_compute_requests"),
)
