"""The worker process: periodic jobs over the shared database, stopped cleanly by a signal.

The composition root gathers the jobs (the kernel's and every service's) and hands them to
:func:`run_jobs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.db.heartbeats import record_heartbeat
from neo_service_layer.kernel.db.unreachable import database_unreachable
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.worker.jobs import PeriodicJob

log = get_logger("nsl.worker")

HEARTBEAT_INTERVAL = timedelta(seconds=5)
#: at most one "database unreachable" warning per this many seconds per job
QUIET_SECONDS = 10.0


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
    """Run ``job`` every interval. A database server that is down (restarting) is one warning per
    ``QUIET_SECONDS`` per job, not a traceback per poll; any other failure is logged with its traceback."""
    warned = -QUIET_SECONDS
    while not stop.is_set():
        if job.wake is not None:
            job.wake.clear()
        failed = False
        try:
            await job.run()
        except Exception as exc:
            failed = True
            if not database_unreachable(exc):
                log.exception("job failed; retrying at its next interval", job=job.name)
            elif time.monotonic() - warned >= QUIET_SECONDS:
                warned = time.monotonic()
                log.warning(
                    "database unreachable; retrying",
                    job=job.name,
                    reason=type(exc).__name__,
                    error=str(exc).splitlines()[0][:200],  # the first line: no statement, no parameters
                )
        await _pause(job, stop, woken=not failed)
    if job.close is not None:
        try:
            await job.close()
        except Exception:
            log.exception("job failed to close", job=job.name)


async def _pause(job: PeriodicJob, stop: asyncio.Event, *, woken: bool) -> None:
    """Until the job's interval is out, the worker stops or (``woken``) the job is woken, whichever
    comes first. After a failed run a wake does not count: a failing job waits its interval, rather
    than failing again at every notification."""
    timeout = job.interval.total_seconds()
    if job.wake is None or not woken:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=timeout)
        return
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(job.wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


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


async def run_jobs(container: Container, jobs: Sequence[PeriodicJob], stop: asyncio.Event) -> None:
    """Run every job until ``stop`` is set; each job's current iteration finishes first."""
    metrics_server = _serve_metrics(container.settings, container)
    log.info("worker started", jobs=[job.name for job in jobs])
    try:
        await asyncio.gather(*(_loop(job, stop) for job in jobs))
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
    log.info("worker stopped")
