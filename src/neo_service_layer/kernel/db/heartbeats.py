"""Worker heartbeats: each worker process records that it is alive; the API reports them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.db.tables import worker_heartbeats
from neo_service_layer.kernel.health.rules import ComponentStatus


async def record_heartbeat(
    engine: AsyncEngine, *, worker_id: str, hostname: str, pid: int, started_at: datetime, now: datetime
) -> None:
    async with engine.begin() as conn:
        result = await conn.execute(
            update(worker_heartbeats)
            .where(worker_heartbeats.c.worker_id == worker_id)
            .values(last_seen_at=now, pid=pid, hostname=hostname)
        )
        if result.rowcount == 0:
            await conn.execute(
                insert(worker_heartbeats).values(
                    worker_id=worker_id, hostname=hostname, pid=pid, started_at=started_at, last_seen_at=now
                )
            )


async def live_workers(engine: AsyncEngine, since: datetime) -> int:
    """How many workers sent a heartbeat at or after ``since``."""
    async with engine.connect() as conn:
        query = select(func.count()).where(worker_heartbeats.c.last_seen_at >= since)
        return int((await conn.execute(query)).scalar_one())


class WorkersCheck:
    """Non-critical readiness entry: how many workers were seen recently."""

    def __init__(self, engine: AsyncEngine, clock: Clock, fresh_within: timedelta) -> None:
        self._engine = engine
        self._clock = clock
        self._fresh_within = fresh_within

    async def __call__(self) -> ComponentStatus:
        since = self._clock.now() - self._fresh_within
        try:
            count = await live_workers(self._engine, since)
        except Exception as exc:  # reported by the database check already; keep this one short
            return ComponentStatus("workers", ok=False, critical=False, detail=type(exc).__name__)
        return ComponentStatus(
            "workers",
            ok=count > 0,
            critical=False,
            detail="" if count else "no worker seen recently",
            info={"active": int(count)},
        )
