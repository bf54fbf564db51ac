"""The automation service's own rows: upkeeps as last read from the contract, skips, run costs, status.

The scheduler writes here before it moves its cursor over a block (``RequestStore.apply_block``), and
every write is idempotent, so a block processed again after a crash writes the same values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.tables import chain_requests
from neo_service_layer.services.automation.adapters.tables import automation_runs, automation_upkeeps
from neo_service_layer.services.automation.ports import RunRow, UpkeepRow
from neo_service_layer.services.automation.rules.display import describe_trigger
from neo_service_layer.services.automation.rules.upkeeps import Performed, Upkeep

U = automation_upkeeps
RUNS = automation_runs
R = chain_requests


class SqlUpkeepStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, contract: str, upkeep: Upkeep, read_block: int) -> None:
        values = {
            "owner": upkeep.owner,
            "target": upkeep.target,
            "method": upkeep.method[:64],
            "kind": int(upkeep.trigger_kind),
            "trigger": json.dumps(describe_trigger(upkeep.trigger)),
            "gas_limit": upkeep.gas_limit,
            "catch_up": upkeep.catch_up.value,
            "state": int(upkeep.state),
            "since_seconds": upkeep.since_seconds,
            "since_block": upkeep.since_block,
            "balance": upkeep.balance,
            "invalid": None,
            "read_block": read_block,
        }
        await self._upsert(contract, upkeep.upkeep_id, values)

    async def save_invalid(self, contract: str, upkeep_id: int, reason: str, read_block: int) -> None:
        """A record the rules cannot read: shown with the reason, never scheduled."""
        values = {
            "owner": "",
            "target": "",
            "method": "",
            "kind": 0,
            "trigger": "{}",
            "gas_limit": 0,
            "catch_up": "",
            "state": 0,
            "since_seconds": 0,
            "since_block": 0,
            "balance": 0,
            "invalid": reason[:500],
            "read_block": read_block,
        }
        await self._upsert(contract, upkeep_id, values)

    async def _upsert(self, contract: str, upkeep_id: int, values: dict[str, Any]) -> None:
        key = and_(U.c.contract == contract, U.c.upkeep_id == upkeep_id)
        async with self._engine.begin() as conn:
            # a record read at an older block never replaces one read at a newer one (replicas race)
            changed = await conn.execute(
                update(U).where(key, U.c.read_block <= values["read_block"]).values(**values)
            )
            if changed.rowcount == 0:
                exists = (await conn.execute(select(U.c.upkeep_id).where(key))).first()
                if exists is None:
                    await conn.execute(insert(U).values(contract=contract, upkeep_id=upkeep_id, **values))

    async def record_skip(
        self, contract: str, upkeep_id: int, reason: str, occurrence: int, now: datetime
    ) -> None:
        key = and_(U.c.contract == contract, U.c.upkeep_id == upkeep_id)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(U)
                .where(key)
                .values(skip_reason=reason, skip_occurrence=occurrence, skipped_at=now, skips=U.c.skips + 1)
            )

    async def record_performed(self, contract: str, runs: Sequence[Performed]) -> None:
        """Gas used and charge of each performed run, and its upkeep's balance after it."""
        if not runs:
            return
        async with self._engine.begin() as conn:
            for run in runs:
                await conn.execute(
                    update(RUNS)
                    .where(
                        RUNS.c.contract == contract,
                        RUNS.c.upkeep_id == run.upkeep_id,
                        RUNS.c.occurrence == run.occurrence,
                    )
                    .values(gas_used=run.gas_used, charged=run.charged)
                )

    async def record_run_error(self, contract: str, request_id: int, error: str) -> int:
        """Count one more dry-run fault of the run and keep its reason; the run's faults so far."""
        async with self._engine.begin() as conn:
            faults = await conn.execute(
                update(RUNS)
                .where(RUNS.c.contract == contract, RUNS.c.request_id == request_id)
                .values(last_error=error[:500], faults=RUNS.c.faults + 1)
                .returning(RUNS.c.faults)
            )
            return int(faults.scalar_one_or_none() or 0)

    async def upkeeps(self, contract: str, *, limit: int, after: int) -> list[UpkeepRow]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(U)
                .where(U.c.contract == contract, U.c.upkeep_id > after)
                .order_by(U.c.upkeep_id)
                .limit(limit)
            )
            return [_upkeep_row(r) for r in rows]

    async def upkeep(self, contract: str, upkeep_id: int) -> UpkeepRow | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(U).where(U.c.contract == contract, U.c.upkeep_id == upkeep_id))
            ).first()
            return _upkeep_row(row) if row is not None else None

    async def runs(self, contract: str, upkeep_id: int, *, limit: int) -> list[RunRow]:
        """The upkeep's latest occurrences, newest first, with the pipeline's state of each."""
        joined = RUNS.join(
            R,
            and_(
                R.c.service == "automation",
                R.c.contract == RUNS.c.contract,
                R.c.request_id == RUNS.c.request_id,
            ),
        )
        query = (
            select(
                RUNS.c.occurrence,
                RUNS.c.due_block,
                RUNS.c.gas_used,
                RUNS.c.charged,
                RUNS.c.last_error,
                R.c.status,
                R.c.tx_hash,
                R.c.fulfilled_tx,
                R.c.fulfilled_block,
                R.c.failure_reason,
                R.c.attempts,
            )
            .select_from(joined)
            .where(RUNS.c.contract == contract, RUNS.c.upkeep_id == upkeep_id)
            .order_by(RUNS.c.occurrence.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [
                RunRow(
                    occurrence=int(r.occurrence),
                    due_block=int(r.due_block),
                    status=str(r.status),
                    tx_hash=r.fulfilled_tx or r.tx_hash,
                    performed_block=int(r.fulfilled_block) if r.fulfilled_block is not None else None,
                    gas_used=int(r.gas_used) if r.gas_used is not None else None,
                    charged=int(r.charged) if r.charged is not None else None,
                    reason=r.failure_reason or r.last_error,
                    attempts=int(r.attempts),
                )
                for r in await conn.execute(query)
            ]

    async def count(self, contract: str) -> int:
        async with self._engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).where(U.c.contract == contract))).scalar_one()
            )


def _upkeep_row(r: Any) -> UpkeepRow:
    return UpkeepRow(
        upkeep_id=int(r.upkeep_id),
        owner=str(r.owner),
        target=str(r.target),
        method=str(r.method),
        trigger=json.loads(r.trigger),
        gas_limit=int(r.gas_limit),
        catch_up=str(r.catch_up),
        state=int(r.state),
        since_seconds=int(r.since_seconds),
        since_block=int(r.since_block),
        balance=int(r.balance),
        invalid=r.invalid,
        skip_reason=r.skip_reason,
        skip_occurrence=int(r.skip_occurrence) if r.skip_occurrence is not None else None,
        skipped_at=r.skipped_at,
        skips=int(r.skips),
    )
