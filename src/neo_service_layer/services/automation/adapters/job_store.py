"""Persistence of tenant jobs and their runs (implements ``ports.JobStore``).

Every read and write of ``automation_jobs`` and ``automation_job_runs`` runs in a transaction scoped to
the job's tenant (``app.tenant_id`` on PostgreSQL, so row-level security applies); the worker first
reads ``automation_job_index``, which names the tenant. A worker holds a job with ``SELECT ... FOR
UPDATE SKIP LOCKED`` on its index row while it records and claims runs; the run's primary key
``(job_id, occurrence)`` inserted with ``ON CONFLICT DO NOTHING`` is what makes an occurrence fire once
even without that lock (SQLite ignores it).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.chain.adapters.sql_support import insert_ignore
from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.kernel.events.adapters import publish
from neo_service_layer.kernel.events.rules import TenantEvent
from neo_service_layer.services.automation.adapters.job_tables import (
    automation_job_index,
    automation_job_runs,
    automation_job_scan,
    automation_jobs,
)
from neo_service_layer.services.automation.ports import Job, JobRun, RunExtra
from neo_service_layer.services.automation.rules.job_actions import action_from_dict
from neo_service_layer.services.automation.rules.jobs import JobState, JobTrigger, Outcome, RunStatus
from neo_service_layer.services.automation.rules.schedule import CatchUp

J, R, X = automation_jobs, automation_job_runs, automation_job_index
#: runs claimed again once their ``retry_at`` came
_DUE_AT_RETRY = (RunStatus.RETRYING.value, RunStatus.PENDING.value, RunStatus.SENT.value)


def _job(row: Any) -> Job:
    return Job(
        job_id=row.job_id,
        tenant_id=row.tenant_id,
        name=row.name,
        trigger=JobTrigger.from_dict(json.loads(row.trigger)),
        action=action_from_dict(json.loads(row.action)),
        catch_up=CatchUp(row.catch_up),
        state=JobState(row.state),
        anchor=int(row.anchor),
        created_at=utc_required(row.created_at),
    )


def _run(row: Any) -> JobRun:
    return JobRun(
        occurrence=int(row.occurrence),
        status=RunStatus(row.status),
        attempts=int(row.attempts),
        http_status=row.http_status,
        reason=row.reason,
        retry_at=row.retry_at,
        finished_at=utc(row.finished_at) if row.finished_at is not None else None,
        block=row.block,
        tx_hash=row.tx_hash,
        call_tx_hash=row.call_tx_hash,
        call_block=row.call_block,
        call_gas=row.call_gas,
    )


async def wake_by(conn: AsyncConnection, job_id: str, when: int) -> None:
    """Have a worker look at the job by ``when`` (an earlier wake time stays)."""
    earlier = case((X.c.wake_at.is_(None), when), (X.c.wake_at > when, when), else_=X.c.wake_at)
    await conn.execute(update(X).where(X.c.job_id == job_id).values(wake_at=earlier))


class _Locked:
    """Implements ``ports.LockedJob`` on the connection of the transaction holding the index row."""

    def __init__(
        self, conn: AsyncConnection, job: Job, scanned: int, secret_sealed: bytes, grant_sealed: bytes | None
    ) -> None:
        self._conn = conn
        self.job = job
        self.scanned = scanned
        self.secret_sealed = secret_sealed
        self.grant_sealed = grant_sealed

    async def insert_runs(
        self,
        occurrences: Sequence[int],
        status: RunStatus,
        *,
        worker: str | None,
        lease_until: int | None,
        reason: str | None,
        now: datetime,
    ) -> list[int]:
        inserted = []
        finished = None if status in (RunStatus.RUNNING, RunStatus.RETRYING) else now
        for occurrence in occurrences:
            values = {
                "job_id": self.job.job_id,
                "occurrence": occurrence,
                "tenant_id": self.job.tenant_id,
                "status": status.value,
                "attempts": 1 if status is RunStatus.RUNNING else 0,
                "worker": worker,
                "lease_until": lease_until,
                "reason": reason,
                "finished_at": finished,
            }
            if await insert_ignore(self._conn, R, values):
                inserted.append(occurrence)
        return inserted

    def _mine(self) -> Any:
        return R.c.job_id == self.job.job_id

    async def reclaim(self, now: int, worker: str, lease_until: int) -> list[tuple[int, int]]:
        due_again = or_(
            and_(R.c.status == RunStatus.RUNNING.value, R.c.lease_until < now),
            and_(R.c.status.in_(_DUE_AT_RETRY), R.c.retry_at <= now),
        )
        rows = (await self._conn.execute(select(R.c.occurrence).where(self._mine(), due_again))).all()
        claimed = []
        for (occurrence,) in rows:
            result = await self._conn.execute(
                update(R)
                .where(self._mine(), R.c.occurrence == occurrence, due_again)
                .values(
                    status=RunStatus.RUNNING.value,
                    worker=worker,
                    lease_until=lease_until,
                    retry_at=None,
                    # a look at a sent transaction is not a new attempt
                    attempts=R.c.attempts + case((R.c.status == RunStatus.SENT.value, 0), else_=1),
                )
                .returning(R.c.attempts)
            )
            attempts = result.scalar()
            if attempts is not None:
                claimed.append((int(occurrence), int(attempts)))
        return claimed

    async def fail(self, occurrence: int, reason: str, now: datetime) -> None:
        await self._conn.execute(
            update(R)
            .where(self._mine(), R.c.occurrence == occurrence)
            .values(status=RunStatus.FAILED.value, lease_until=None, reason=reason, finished_at=now)
        )

    async def pending_wake(self) -> int | None:
        when = case((R.c.status == RunStatus.RUNNING.value, R.c.lease_until), else_=R.c.retry_at)
        unfinished = (RunStatus.RUNNING.value, *_DUE_AT_RETRY)
        query = select(when).where(self._mine(), R.c.status.in_(unfinished))
        times = [int(t) for (t,) in (await self._conn.execute(query)).all() if t is not None]
        return min(times, default=None)

    async def set_schedule(self, state: JobState, scanned: int, wake_at: int | None) -> None:
        await self._conn.execute(
            update(X)
            .where(X.c.job_id == self.job.job_id)
            .values(state=state.value, scanned=scanned, wake_at=wake_at)
        )
        await self._conn.execute(update(J).where(J.c.job_id == self.job.job_id).values(state=state.value))

    async def extras(self, occurrences: Sequence[int]) -> dict[int, RunExtra]:
        if not occurrences or not self.job.trigger.on_blocks:
            return {}
        query = select(R.c.occurrence, R.c.due_at, R.c.payload).where(
            self._mine(), R.c.occurrence.in_(list(occurrences)), R.c.payload.is_not(None)
        )
        rows = (await self._conn.execute(query)).all()
        return {int(r.occurrence): RunExtra(int(r.due_at or 0), json.loads(r.payload)) for r in rows}

    async def restart_blocks(self, since_block: int) -> None:
        mine = X.c.job_id == self.job.job_id
        await self._conn.execute(update(X).where(mine).values(since_block=since_block))


class SqlJobStore:
    """Implements ``ports.JobStore`` over SQLAlchemy Core."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _scope(self, conn: AsyncConnection, tenant_id: str) -> None:
        if self._engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})

    async def add(
        self, job: Job, secret_sealed: bytes, wake_at: int | None, grant_sealed: bytes | None = None
    ) -> None:
        async with self._engine.begin() as conn:
            await self._scope(conn, job.tenant_id)
            await conn.execute(
                insert(J).values(
                    job_id=job.job_id,
                    tenant_id=job.tenant_id,
                    name=job.name,
                    trigger=json.dumps(job.trigger.as_dict()),
                    action=json.dumps(job.action.as_dict()),
                    catch_up=job.catch_up.value,
                    state=job.state.value,
                    anchor=job.anchor,
                    secret_sealed=secret_sealed,
                    grant_sealed=grant_sealed,
                    created_at=job.created_at,
                )
            )
            await conn.execute(
                insert(X).values(
                    job_id=job.job_id,
                    tenant_id=job.tenant_id,
                    state=job.state.value,
                    scanned=job.anchor,
                    wake_at=wake_at,
                    watch=job.trigger.kind if job.trigger.on_blocks else None,
                    since_block=job.anchor if job.trigger.on_blocks else None,
                )
            )

    async def jobs(self, tenant_id: str, *, limit: int, after: str | None) -> list[Job]:
        query = select(J).where(J.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(J.c.job_id > after)
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            rows = (await conn.execute(query.order_by(J.c.job_id).limit(limit))).all()
        return [_job(r) for r in rows]

    async def job(self, tenant_id: str, job_id: str) -> Job | None:
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            row = (
                await conn.execute(select(J).where(J.c.tenant_id == tenant_id, J.c.job_id == job_id))
            ).first()
        return _job(row) if row is not None else None

    async def runs(self, tenant_id: str, job_id: str, *, limit: int) -> list[JobRun]:
        query = (
            select(R)
            .where(R.c.tenant_id == tenant_id, R.c.job_id == job_id)
            .order_by(R.c.occurrence.desc())
            .limit(limit)
        )
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            rows = (await conn.execute(query)).all()
        return [_run(r) for r in rows]

    async def delete(self, tenant_id: str, job_id: str) -> bool:
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            # wait for a worker recording runs of the job, so none is left behind
            lock = (
                select(X.c.job_id).where(X.c.job_id == job_id, X.c.tenant_id == tenant_id).with_for_update()
            )
            await conn.execute(lock)
            gone = await conn.execute(delete(J).where(J.c.tenant_id == tenant_id, J.c.job_id == job_id))
            if not gone.rowcount:
                return False
            await conn.execute(delete(R).where(R.c.tenant_id == tenant_id, R.c.job_id == job_id))
            await conn.execute(delete(X).where(X.c.tenant_id == tenant_id, X.c.job_id == job_id))
        return True

    @asynccontextmanager
    async def locked(
        self, tenant_id: str, job_id: str, *, wait: bool = False
    ) -> AsyncIterator[_Locked | None]:
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            index = (
                await conn.execute(
                    select(X.c.scanned)
                    .where(X.c.job_id == job_id, X.c.tenant_id == tenant_id)
                    .with_for_update(skip_locked=not wait)
                )
            ).first()
            row = (
                (
                    await conn.execute(select(J).where(J.c.tenant_id == tenant_id, J.c.job_id == job_id))
                ).first()
                if index is not None
                else None
            )
            if index is None or row is None:
                yield None
                return
            grant = bytes(row.grant_sealed) if row.grant_sealed is not None else None
            yield _Locked(conn, _job(row), int(index.scanned), bytes(row.secret_sealed), grant)

    async def wakeful(self, now: int, limit: int) -> list[tuple[str, str]]:
        query = (
            select(X.c.job_id, X.c.tenant_id)
            .where(X.c.state == JobState.ACTIVE.value, X.c.wake_at <= now)
            .order_by(X.c.wake_at)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [(r.job_id, r.tenant_id) for r in (await conn.execute(query)).all()]

    async def finish(
        self,
        tenant_id: str,
        job_id: str,
        occurrence: int,
        worker: str,
        outcome: Outcome,
        http_status: int | None,
        now: datetime,
    ) -> bool:
        done = outcome.status is not RunStatus.RETRYING
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            result = await conn.execute(
                update(R)
                .where(
                    R.c.job_id == job_id,
                    R.c.occurrence == occurrence,
                    R.c.status == RunStatus.RUNNING.value,
                    R.c.worker == worker,
                )
                .values(
                    status=outcome.status.value,
                    lease_until=None,
                    retry_at=outcome.retry_at,
                    http_status=http_status,
                    reason=outcome.reason,
                    finished_at=now if done else None,
                )
            )
            if result.rowcount and outcome.retry_at is not None:
                await wake_by(conn, job_id, outcome.retry_at)
            if result.rowcount:
                status, reason = outcome.status, outcome.reason
                await publish_run(conn, tenant_id, job_id, occurrence, status, now, http_status, reason)
        return bool(result.rowcount)

    async def run_counts(self, tenant_id: str, job_id: str) -> dict[str, int]:
        query = (
            select(R.c.status, func.count())
            .where(R.c.tenant_id == tenant_id, R.c.job_id == job_id)
            .group_by(R.c.status)
        )
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            return {str(status): int(n) for status, n in (await conn.execute(query)).all()}

    async def scanned_block(self) -> int | None:
        async with self._engine.connect() as conn:
            scan = automation_job_scan.c
            block = (await conn.execute(select(scan.block).where(scan.name == SCAN))).scalar()
        return int(block) if block is not None else None


async def publish_run(
    conn: AsyncConnection,
    tenant_id: str,
    job_id: str,
    occurrence: int,
    status: RunStatus,
    now: datetime,
    http_status: int | None,
    reason: str | None,
) -> None:
    """A delivered or failed run as a tenant event, in the transaction that finished it."""
    if status not in (RunStatus.DELIVERED, RunStatus.FAILED):
        return
    data: dict[str, object] = {"jobId": job_id, "occurrence": occurrence, "status": status.value}
    if http_status is not None:
        data["httpStatus"] = http_status
    if reason:
        data["reason"] = reason
    await publish(conn, [TenantEvent(tenant_id, f"automation.run.{status.value}", now, data)])


#: the name of the block scanner's cursor row
SCAN = "tenant-jobs"
