"""A contract call's transaction on its run row (implements ``ports.JobCallStore``).

The signed transaction is written on the run (hash, bytes, last valid block) before it is sent, in a
statement that checks the run is still ``running`` under this worker's lease: a worker that lost its
lease sends nothing. Later looks (status ``sent``, claimed again at ``retry_at`` without using an
attempt) read it back, and the result of each look is written under the same check. Transactions
are scoped to the tenant like every other job table access (row-level security on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.services.automation.adapters.job_store import R, publish_run, wake_by
from neo_service_layer.services.automation.rules.job_calls import CallResult, CallState, SentTx
from neo_service_layer.services.automation.rules.jobs import RunStatus

_STATUS = {
    CallState.SENT: RunStatus.SENT,
    CallState.LANDED: RunStatus.DELIVERED,
    CallState.RETRY: RunStatus.RETRYING,
    CallState.FAILED: RunStatus.FAILED,
}


class SqlJobCallStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _scope(self, conn: AsyncConnection, tenant_id: str) -> None:
        if self._engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})

    @staticmethod
    def _held(job_id: str, occurrence: int, worker: str) -> ColumnElement[bool]:
        return and_(
            R.c.job_id == job_id,
            R.c.occurrence == occurrence,
            R.c.status == RunStatus.RUNNING.value,
            R.c.worker == worker,
        )

    async def sent(self, tenant_id: str, job_id: str, occurrences: Sequence[int]) -> dict[int, SentTx]:
        if not occurrences:
            return {}
        query = select(R.c.occurrence, R.c.call_tx_hash, R.c.call_tx_raw, R.c.call_valid_until).where(
            R.c.job_id == job_id, R.c.occurrence.in_(list(occurrences)), R.c.call_tx_hash.is_not(None)
        )
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            rows = (await conn.execute(query)).all()
        return {
            int(r.occurrence): SentTx(str(r.call_tx_hash), bytes(r.call_tx_raw), int(r.call_valid_until))
            for r in rows
        }

    async def record(self, tenant_id: str, job_id: str, occurrence: int, worker: str, tx: SentTx) -> bool:
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            result = await conn.execute(
                update(R)
                .where(self._held(job_id, occurrence, worker))
                .values(call_tx_hash=tx.tx_hash, call_tx_raw=tx.raw, call_valid_until=tx.valid_until)
            )
        return bool(result.rowcount)

    async def finish(
        self, tenant_id: str, job_id: str, occurrence: int, worker: str, result: CallResult, now: datetime
    ) -> bool:
        status = _STATUS[result.state]
        done = status in (RunStatus.DELIVERED, RunStatus.FAILED)
        values: dict[str, object] = {
            "status": status.value,
            "lease_until": None,
            "retry_at": result.retry_at,
            "reason": result.reason,
            "finished_at": now if done else None,
        }
        if result.state is CallState.RETRY and not result.attempted:  # gives back the claim's attempt
            values["attempts"] = R.c.attempts - 1
        if result.state is CallState.LANDED:
            values.update(call_block=result.block, call_gas=result.gas_used, call_tx_raw=None)
        elif result.tx is None:  # nothing of this run can land any more: a new attempt builds anew
            values.update(call_tx_raw=None, call_valid_until=None)
            if status is not RunStatus.FAILED:
                values["call_tx_hash"] = None
        async with self._engine.begin() as conn:
            await self._scope(conn, tenant_id)
            updated = await conn.execute(
                update(R).where(self._held(job_id, occurrence, worker)).values(**values)
            )
            if updated.rowcount and result.retry_at is not None:
                await wake_by(conn, job_id, result.retry_at)
            if updated.rowcount:
                await publish_run(conn, tenant_id, job_id, occurrence, status, now, None, result.reason)
        return bool(updated.rowcount)
