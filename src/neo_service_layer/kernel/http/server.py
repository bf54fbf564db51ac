"""Serving the API with uvicorn, terminating TLS itself when a certificate is configured."""

from __future__ import annotations

import ctypes
import gc
import os
import shutil
import signal
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.http import listeners
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.observability.metrics import MULTIPROCESS_DIR_VARIABLE

_PR_SET_PDEATHSIG = 1

log = get_logger(__name__)

# TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are all modern and always enabled.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1:!RC4:!3DES:!CBC"


def harden_tls(context: ssl.SSLContext) -> ssl.SSLContext:
    """Minimum TLS 1.2, modern ciphers, no compression, no renegotiation; 1.3 is preferred by OpenSSL."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    return context


def freeze_after_startup(app: FastAPI) -> FastAPI:
    """Move what start-up built out of the garbage collector's reach once the app has started.

    The process holds a large long-lived heap (the app, its routes, every library loaded); a full
    collection walks all of it, and under load one ran every second or so and held every request for
    about 290 ms (profiled: p99 of a database-backed route about 250 ms against 20 ms for
    ``/health/live``). After ``gc.freeze()`` a full collection sees only what requests allocate
    (about 6 ms). What start-up built lives as long as the process anyway. Only served apps get this:
    a test process builds many apps and must still collect them.
    """
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[Any]:
        async with inner(served) as state:
            gc.collect()
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan
    return app


def hardened_ssl(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn's ``ssl_context_factory``: its context from the configured files, then hardened.

    A factory, not a change after ``Config.load()``: each API process loads its own configuration.
    """
    return harden_tls(default())


def uvicorn_config(settings: Settings, app: FastAPI | str, *, workers: int = 1) -> uvicorn.Config:
    """uvicorn's configuration for the settings' address, TLS and grace; ``app`` an import string of
    an app factory when several processes serve it."""
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        host=settings.http_host,
        port=settings.http_port,
        lifespan="on",
        loop="uvloop",
        http="httptools",
        server_header=False,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
        ssl_ciphers=TLS12_CIPHERS,
        ssl_context_factory=hardened_ssl if settings.tls_cert_file else None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None,
        log_config=None,
        access_log=False,
    )


def build_server(settings: Settings, app: FastAPI) -> uvicorn.Server:
    """uvicorn serving ``app`` (built by the composition root) in this process."""
    config = uvicorn_config(settings, freeze_after_startup(app))
    config.load()
    return uvicorn.Server(config)


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 quota (a container's limit)."""
    cores = os.process_cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, int(quota) // int(period))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def serve_processes(settings: Settings, app_factory: str, workers: int) -> None:
    """Serve the API from ``workers`` processes, each with a listening socket of its own on the address
    (``listeners``), under uvicorn's supervisor, which restarts a process that dies, until SIGINT/SIGTERM.

    Each process builds its own app from ``app_factory`` (``module:function``). Their Prometheus
    values go to files in a directory made for this run, so ``/metrics`` in any process reports them
    all (``observability.metrics.exposition``); the directory is removed at the end.
    """
    metrics_dir = tempfile.mkdtemp(prefix="nsl-api-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = metrics_dir
    try:
        config = uvicorn_config(settings, app_factory, workers=workers)
        try:
            held = listeners.reserve(settings.http_host, settings.http_port)
        except OSError as exc:
            log.error("cannot listen", address=f"{settings.http_host}:{settings.http_port}", error=str(exc))
            raise SystemExit(STARTUP_FAILURE) from exc
        with held:
            Multiprocess(config, sockets=[held]).run()
    finally:
        del os.environ[MULTIPROCESS_DIR_VARIABLE]
        shutil.rmtree(metrics_dir, ignore_errors=True)


def die_with_parent() -> None:
    """Ask Linux to end this process (SIGTERM) when its parent dies, even by SIGKILL.

    An API process left behind by a killed supervisor would keep the shared listening socket, and a
    restarted ``nsl serve`` could not bind its port. Exits at once when the parent is already gone.
    """
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if parent == 1 or os.getppid() != parent:
        raise SystemExit(0)


def base_url(settings: Settings) -> str:
    scheme = "https" if settings.tls_cert_file else "http"
    host = f"[{settings.http_host}]" if ":" in settings.http_host else settings.http_host
    return f"{scheme}://{host}:{settings.http_port}"
