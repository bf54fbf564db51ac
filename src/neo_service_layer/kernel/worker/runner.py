"""The worker process: periodic jobs over the shared database, stopped cleanly by a signal."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from datetime import timedelta
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from neo_service_layer.bootstrap import Container, open_container
from neo_service_layer.kernel.chain.jobs import chain_jobs
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.heartbeats import record_heartbeat
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.services.backup.adapters.checks import restore_checks
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.metrics import BackupMetrics
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.jobs import backup_jobs

log = get_logger("nsl.worker")

HEARTBEAT_INTERVAL = timedelta(seconds=5)


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


def key_destruction_job(container: Container) -> PeriodicJob:
    """Destroy keys whose 7-day destruction grace has passed (enclave first, then the sealed records)."""

    async def destroy() -> None:
        destroyed = await container.vault.keys.destroy_due()
        if destroyed:
            log.info("keys destroyed after their grace period", keys=destroyed)

    interval = timedelta(seconds=container.settings.key_destruction_interval_seconds)
    return PeriodicJob("key-destruction", interval, destroy)


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


def _backup_jobs(settings: Settings, container: Container) -> list[PeriodicJob]:
    """Scheduled backup and weekly restore test, when ``NSL_BACKUP_SCHEDULE_ENABLED`` is true."""
    backup_settings = BackupSettings()
    if not backup_settings.schedule_enabled:
        return []
    checks = restore_checks(settings, container.clock)
    service = build_backup_service(settings, backup_settings, clock=container.clock, checks=checks)
    return backup_jobs(container.clock, service, backup_settings, BackupMetrics(container.registry))


def _serve_metrics(settings: Settings, container: Container) -> WSGIServer | None:
    """The worker has no API: it exposes its registry on ``NSL_WORKER_METRICS_PORT`` when set."""
    if settings.worker_metrics_port is None:
        return None
    server, _thread = start_http_server(
        settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=container.registry
    )
    log.info(
        "worker metrics", url=f"http://{settings.worker_metrics_host}:{settings.worker_metrics_port}/metrics"
    )
    return server


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run every job until ``stop`` is set; each job's current iteration finishes first."""
    async with open_container(settings, "worker") as container:
        jobs = [heartbeat_job(container), key_destruction_job(container)]
        jobs += _backup_jobs(settings, container)
        jobs += chain_jobs(container)
        metrics_server = _serve_metrics(settings, container)
        log.info("worker started", jobs=[job.name for job in jobs])
        try:
            await asyncio.gather(*(_loop(job, stop) for job in jobs))
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
    log.info("worker stopped")
