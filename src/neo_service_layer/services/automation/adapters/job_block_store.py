"""The block scanner's side of the tenant jobs (``ports.JobBlockStore``) and the clean-up of old runs
(``ports.JobRunJanitor``).

The scanner has no tenant: it reads ``automation_job_index`` (which names each job's tenant, whether it
watches blocks and from which block), then each tenant's triggers in a transaction scoped to the tenant
(``app.tenant_id``: row-level security applies). A run is inserted with ``ON CONFLICT DO NOTHING`` on
``(job_id, occurrence)`` while the job's index row is held ``FOR UPDATE``, so a runner claiming the job
meanwhile either sees the run or is woken for it after; two scanners (replicas) or a scanner reading a
block again after a crash record it once. The cursor row moves only forward.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.chain.adapters.sql_support import insert_ignore
from neo_service_layer.services.automation.adapters.job_store import SCAN
from neo_service_layer.services.automation.adapters.job_tables import (
    automation_job_index,
    automation_job_runs,
    automation_job_scan,
    automation_jobs,
)
from neo_service_layer.services.automation.ports import BlockJob, BlockRun
from neo_service_layer.services.automation.rules.cron import InvalidTrigger
from neo_service_layer.services.automation.rules.jobs import FINISHED, JobState, JobTrigger, RunStatus
from neo_service_layer.services.automation.rules.schedule import CatchUp

J, R, X, S = automation_jobs, automation_job_runs, automation_job_index, automation_job_scan


async def _scope(engine: AsyncEngine, conn: AsyncConnection, tenant_id: str) -> None:
    if engine.dialect.name == "postgresql":
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})


def _kind(action: str) -> str:
    """The action's kind (its one key: ``webhook``...), a metrics label."""
    try:
        parsed = json.loads(action)
    except ValueError:
        return "unknown"
    return next(iter(parsed), "unknown") if isinstance(parsed, dict) else "unknown"


class SqlJobBlockStore:
    """Implements ``ports.JobBlockStore`` over SQLAlchemy Core."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        #: job id -> (trigger, catch-up, anchor, action kind): none of them changes after creation
        self._known: dict[str, tuple[JobTrigger, CatchUp, int, str]] = {}

    async def cursor(self) -> int | None:
        async with self._engine.connect() as conn:
            block = (await conn.execute(select(S.c.block).where(S.c.name == SCAN))).scalar()
        return int(block) if block is not None else None

    async def move_cursor(self, block: int, now: datetime) -> None:
        async with self._engine.begin() as conn:
            if await insert_ignore(conn, S, {"name": SCAN, "block": block, "updated_at": now}):
                return
            await conn.execute(
                update(S).where(S.c.name == SCAN, S.c.block < block).values(block=block, updated_at=now)
            )

    async def block_jobs(self) -> list[BlockJob]:
        query = select(X.c.job_id, X.c.tenant_id, X.c.since_block).where(
            X.c.watch.is_not(None), X.c.state == JobState.ACTIVE.value
        )
        async with self._engine.connect() as conn:
            index = (await conn.execute(query)).all()
        unknown: dict[str, list[str]] = defaultdict(list)
        for row in index:
            if row.job_id not in self._known:
                unknown[row.tenant_id].append(row.job_id)
        for tenant_id, ids in unknown.items():
            await self._load(tenant_id, ids)
        found = []
        for row in index:
            known = self._known.get(row.job_id)
            if known is None:
                continue
            trigger, catch_up, anchor, kind = known
            since = int(row.since_block) if row.since_block is not None else anchor
            found.append(BlockJob(row.job_id, row.tenant_id, trigger, catch_up, anchor, since, kind))
        return found

    async def _load(self, tenant_id: str, job_ids: list[str]) -> None:
        query = select(J.c.job_id, J.c.trigger, J.c.catch_up, J.c.anchor, J.c.action).where(
            J.c.tenant_id == tenant_id, J.c.job_id.in_(job_ids)
        )
        async with self._engine.begin() as conn:
            await _scope(self._engine, conn, tenant_id)
            rows = (await conn.execute(query)).all()
        for row in rows:
            try:
                trigger = JobTrigger.from_dict(json.loads(row.trigger))
            except (InvalidTrigger, ValueError):
                continue
            self._known[row.job_id] = (trigger, CatchUp(row.catch_up), int(row.anchor), _kind(row.action))

    async def record(self, job: BlockJob, runs: Sequence[BlockRun], now: datetime) -> int:
        moment = int(now.timestamp())
        inserted = 0
        async with self._engine.begin() as conn:
            await _scope(self._engine, conn, job.tenant_id)
            held = (
                await conn.execute(
                    select(X.c.state, X.c.since_block)
                    .where(X.c.job_id == job.job_id, X.c.tenant_id == job.tenant_id)
                    .with_for_update()
                )
            ).first()
            if held is None or held.state != JobState.ACTIVE.value:
                return 0
            since = int(held.since_block) if held.since_block is not None else job.since_block
            for run in runs:
                if run.block <= since:
                    continue
                values: dict[str, Any] = {
                    "job_id": job.job_id,
                    "occurrence": run.occurrence,
                    "tenant_id": job.tenant_id,
                    "status": RunStatus.PENDING.value,
                    "attempts": 0,
                    "retry_at": moment,
                    "due_at": moment,
                    "block": run.block,
                    "tx_hash": run.tx_hash,
                    "payload": json.dumps(run.payload, separators=(",", ":"), sort_keys=True),
                }
                inserted += await insert_ignore(conn, R, values)
            if inserted:
                earlier = case(
                    (X.c.wake_at.is_(None), moment), (X.c.wake_at > moment, moment), else_=X.c.wake_at
                )
                await conn.execute(update(X).where(X.c.job_id == job.job_id).values(wake_at=earlier))
        return inserted


class SqlJobRunJanitor:
    """Implements ``ports.JobRunJanitor``: the tenants from the index, each one's runs under its scope."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def tenants(self) -> list[str]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(X.c.tenant_id).distinct().order_by(X.c.tenant_id))).all()
        return [r.tenant_id for r in rows]

    async def delete_finished(self, tenant_id: str, before: datetime, limit: int) -> int:
        finished = [s.value for s in FINISHED]
        old = (
            select(R.c.job_id, R.c.occurrence)
            .where(R.c.tenant_id == tenant_id, R.c.status.in_(finished), R.c.finished_at < before)
            .order_by(R.c.finished_at)
            .limit(limit)
        )
        deleted = 0
        async with self._engine.begin() as conn:
            await _scope(self._engine, conn, tenant_id)
            by_job: dict[str, list[int]] = defaultdict(list)
            for row in (await conn.execute(old)).all():
                by_job[row.job_id].append(int(row.occurrence))
            for job_id, occurrences in by_job.items():
                result = await conn.execute(
                    delete(R).where(
                        R.c.tenant_id == tenant_id,
                        R.c.job_id == job_id,
                        R.c.occurrence.in_(occurrences),
                        R.c.status.in_(finished),  # a row claimed again meanwhile stays
                    )
                )
                deleted += int(result.rowcount or 0)
        return deleted
