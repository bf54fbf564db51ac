"""Tables of the tenant jobs (SQLAlchemy Core, on the shared ``metadata``).

- ``automation_jobs`` (tenant data, RLS): the job's trigger, action and catch-up policy, and its webhook
  secret sealed under ``NSL_JWT_KEK`` (``AesGcmBox``, label ``automation-webhook:<tenant>:<job>``);
- ``automation_job_runs`` (tenant data, RLS): one row per due occurrence, its key ``(job_id,
  occurrence)`` is the claim (inserted once, whatever the number of workers), with the lease of the
  worker running it, attempts, HTTP status and the reason a run failed or did not happen;
- ``automation_job_index`` (no RLS: ids and times only): which tenant owns a job, whether it is active
  and when a worker should look at it next (``wake_at``: the next occurrence, a retry or a lease that
  runs out), so the worker, which has no tenant, finds the jobs it has to serve;
- ``automation_job_scan`` (no RLS): the block scanner's cursor (blocks up to it are read).
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

automation_jobs = Table(
    "automation_jobs",
    metadata,
    Column("job_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("trigger", Text, nullable=False),  # JSON: rules.jobs.JobTrigger.as_dict
    Column("action", Text, nullable=False),  # JSON: rules.job_actions (``webhook`` or ``contract``)
    Column("catch_up", String(8), nullable=False),
    Column("state", String(8), nullable=False),
    Column("anchor", BigInteger, nullable=False),  # interval occurrences are anchor + k * every
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # a contract call (0014): the enclave's sealed grant of the one call the job's key signs
    Column("grant_sealed", LargeBinary, nullable=True),
    PrimaryKeyConstraint("job_id", name="pk_automation_jobs"),
    Index("ix_automation_jobs_tenant", "tenant_id", "created_at"),
)

automation_job_runs = Table(
    "automation_job_runs",
    metadata,
    Column("job_id", String(40), nullable=False),
    Column("occurrence", BigInteger, nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("worker", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("retry_at", BigInteger, nullable=True),
    Column("http_status", Integer, nullable=True),
    Column("reason", Text, nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    # a block trigger's run (0013): the block, the notification's transaction, the body's additions
    # (JSON) and when it was recorded (unix seconds; a time run is due at its occurrence)
    Column("block", BigInteger, nullable=True),
    Column("tx_hash", String(66), nullable=True),
    Column("payload", Text, nullable=True),
    Column("due_at", BigInteger, nullable=True),
    # a contract call's run (0014): its transaction, recorded before it is sent, and where it landed
    Column("call_tx_hash", String(66), nullable=True),
    Column("call_tx_raw", LargeBinary, nullable=True),
    Column("call_valid_until", BigInteger, nullable=True),
    Column("call_block", BigInteger, nullable=True),
    Column("call_gas", BigInteger, nullable=True),
    PrimaryKeyConstraint("job_id", "occurrence", name="pk_automation_job_runs"),
    Index("ix_automation_job_runs_finished", "tenant_id", "finished_at"),
)

automation_job_index = Table(
    "automation_job_index",
    metadata,
    Column("job_id", String(40), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("state", String(8), nullable=False),
    Column("scanned", BigInteger, nullable=False),  # occurrences up to here are recorded
    Column("wake_at", BigInteger, nullable=True),  # None: nothing will ever be due
    # a block trigger (0013): ``event`` or ``condition``, and the block after which it sees blocks
    Column("watch", String(12), nullable=True),
    Column("since_block", BigInteger, nullable=True),
    PrimaryKeyConstraint("job_id", name="pk_automation_job_index"),
    Index("ix_automation_job_index_wake", "state", "wake_at"),
    Index("ix_automation_job_index_watch", "watch", "state"),
)

#: the block scanner's durable cursor of tenant jobs (no RLS: one row, a block height)
automation_job_scan = Table(
    "automation_job_scan",
    metadata,
    Column("name", String(40), nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("name", name="pk_automation_job_scan"),
)
