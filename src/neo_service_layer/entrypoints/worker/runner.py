"""The worker process: periodic jobs over the shared database, stopped cleanly by a signal."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from neo_service_layer.adapters.db.heartbeats import record_heartbeat
from neo_service_layer.bootstrap import Container, open_container
from neo_service_layer.config import Settings
from neo_service_layer.observability.logs import get_logger

log = get_logger("nsl.worker")

HEARTBEAT_INTERVAL = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    name: str
    interval: timedelta
    run: Callable[[], Awaitable[None]]


def heartbeat_job(container: Container) -> PeriodicJob:
    worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    started_at = container.clock.now()

    async def beat() -> None:
        await record_heartbeat(
            container.engine,
            worker_id=worker_id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            started_at=started_at,
            now=container.clock.now(),
        )

    return PeriodicJob("heartbeat", HEARTBEAT_INTERVAL, beat)


async def _loop(job: PeriodicJob, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await job.run()
        except Exception:
            log.exception("job failed; retrying at its next interval", job=job.name)
        try:
            await asyncio.wait_for(stop.wait(), timeout=job.interval.total_seconds())
        except TimeoutError:
            continue


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run every job until ``stop`` is set; each job's current iteration finishes first."""
    async with open_container(settings, "worker") as container:
        jobs = [heartbeat_job(container)]
        log.info("worker started", jobs=[job.name for job in jobs])
        await asyncio.gather(*(_loop(job, stop) for job in jobs))
    log.info("worker stopped")
