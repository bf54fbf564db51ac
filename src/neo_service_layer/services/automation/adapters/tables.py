"""Tables of the automation service (SQLAlchemy Core, on the shared ``metadata``). Public on-chain data:
no row-level security.

- ``automation_upkeeps``: the upkeeps the contract holds, as last read from it (re-read on each of its
  events), with the last occurrence the scheduler skipped and why;
- ``automation_runs``: per due occurrence (the pipeline's row in ``chain_requests``, same contract and
  request id = ``rules.triggers.run_id``): which upkeep and occurrence, the block it became due in, the
  data passed on, the last dry-run error while retrying, and what the run cost once performed.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from neo_service_layer.kernel.db.tables import metadata

automation_upkeeps = Table(
    "automation_upkeeps",
    metadata,
    Column("contract", String(42), nullable=False),
    Column("upkeep_id", BigInteger, nullable=False),
    Column("owner", String(42), nullable=False),
    Column("target", String(42), nullable=False),
    Column("method", String(64), nullable=False),
    Column("kind", Integer, nullable=False),
    Column("trigger", Text, nullable=False),  # JSON: the trigger as the API shows it
    Column("gas_limit", BigInteger, nullable=False),
    Column("catch_up", String(8), nullable=False),
    Column("state", Integer, nullable=False),
    Column("since_seconds", BigInteger, nullable=False),
    Column("since_block", BigInteger, nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("invalid", Text, nullable=True),  # why the record cannot be scheduled (unreadable trigger)
    Column("read_block", BigInteger, nullable=False),
    Column("skip_reason", String(32), nullable=True),
    Column("skip_occurrence", BigInteger, nullable=True),
    Column("skipped_at", DateTime(timezone=True), nullable=True),
    Column("skips", BigInteger, nullable=False, default=0, server_default="0"),
    PrimaryKeyConstraint("contract", "upkeep_id", name="pk_automation_upkeeps"),
)

automation_runs = Table(
    "automation_runs",
    metadata,
    Column("contract", String(42), nullable=False),
    Column("request_id", BigInteger, nullable=False),
    Column("upkeep_id", BigInteger, nullable=False),
    Column("occurrence", BigInteger, nullable=False),
    Column("due_block", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("faults", Integer, nullable=False, default=0, server_default="0"),
    Column("gas_used", BigInteger, nullable=True),
    Column("charged", BigInteger, nullable=True),
    PrimaryKeyConstraint("contract", "request_id", name="pk_automation_runs"),
    Index("ix_automation_runs_upkeep", "contract", "upkeep_id", "occurrence"),
)
