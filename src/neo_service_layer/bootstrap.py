"""The composition root: reads the registry, opens the kernel's resources, then each service's parts.

The API, the worker and the CLI all open a :class:`~neo_service_layer.kernel.container.Container`
through :func:`open_container`, inside their lifespan, so no resource is opened at import time and every
resource is closed on shutdown (services in reverse order). This is the only module that knows both the
kernel and the list of services; the kernel's app factory, worker and command groups are handed what
the services contribute.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from neo_service_layer.kernel.cache.adapters.factory import open_cache_factory
from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks
from neo_service_layer.kernel.chain.adapters.role_key_store import SqlRoleKeyStore
from neo_service_layer.kernel.chain.jobs import balance_job
from neo_service_layer.kernel.chain.parts import open_chain, open_evm
from neo_service_layer.kernel.clock import Clock, SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.container import Container, OpenContainer
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.health import DatabaseCheck
from neo_service_layer.kernel.db.heartbeats import WorkersCheck
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.health import EnclaveCheck
from neo_service_layer.kernel.enclave_client.health import not_configured as enclave_not_configured
from neo_service_layer.kernel.enclave_client.sealed_records import sealed_record_loader
from neo_service_layer.kernel.events.listener import listen_job, listening, listens
from neo_service_layer.kernel.http.app import build_app
from neo_service_layer.kernel.idempotency.jobs import purge_job
from neo_service_layer.kernel.identity.parts import open_identity, use_app_role
from neo_service_layer.kernel.identity.rules.access import ScopeCatalogue
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.observability.metrics import ComponentMetrics, EnclaveMetrics, create_registry
from neo_service_layer.kernel.observability.tracing import configure_tracing, shutdown_tracing
from neo_service_layer.kernel.service_descriptor import Command, ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.kernel.worker.runner import heartbeat_job, run_jobs
from neo_service_layer.registry import SERVICES

log = get_logger("nsl.bootstrap")

#: a worker that has not written its heartbeat for this long is not counted as active
WORKER_FRESHNESS = timedelta(seconds=30)


@asynccontextmanager
async def open_container(
    settings: Settings,
    role: str,
    *,
    migrate: bool | None = None,
    registry: CollectorRegistry | None = None,
    clock: Clock | None = None,
    services: Sequence[ServiceDescriptor] = SERVICES,
) -> AsyncIterator[Container]:
    """Open every resource for ``role``; migrate first when asked (default: development only)."""
    catalogue = scope_catalogue(services)  # a scope declared twice stops the process here
    tracing = configure_tracing(settings, role) if settings.otlp_endpoint else None
    engine = create_engine(settings)
    registry = registry or create_registry(role)
    container = Container(
        settings=settings,
        role=role,
        engine=engine,
        registry=registry,
        component_metrics=ComponentMetrics(registry),
        clock=clock or SystemClock(),
        role_keys=SqlRoleKeyStore(engine),
    )
    container.readiness_checks["database"] = DatabaseCheck(engine)
    if role == "api":
        container.readiness_checks["workers"] = WorkersCheck(engine, container.clock, WORKER_FRESHNESS)
    if settings.enclave_token is not None:
        # an enclave restarted empty is re-provisioned from the sealed records in the database
        container.enclave_client = EnclaveClient.from_settings(settings, loader=sealed_record_loader(engine))
        container.readiness_checks["enclave"] = EnclaveCheck(
            container.enclave_client, metrics=EnclaveMetrics(registry)
        )
    else:
        container.readiness_checks["enclave"] = enclave_not_configured
    try:
        if settings.should_auto_migrate if migrate is None else migrate:
            revision = await upgrade_to_head(engine)
            log.info("database migrated", revision=revision)
        if settings.db_app_role and engine.dialect.name == "postgresql":
            await engine.dispose()  # connections used to migrate act as the owner; drop them
            use_app_role(engine, settings.db_app_role)
        async with AsyncExitStack() as stack:
            if role == "api" and listens(engine, _pool_capacity(settings)):  # the streams hear commits
                await stack.enter_async_context(listening(engine, container.new_events.ring))
            container.caches = await stack.enter_async_context(open_cache_factory(settings, registry))
            container.identity = await stack.enter_async_context(
                open_identity(
                    settings, engine, container.clock, catalogue, container.enclave_client, container.caches
                )
            )
            container.chain = await stack.enter_async_context(
                open_chain(
                    settings,
                    engine,
                    lambda: container.enclave,
                    container.clock,
                    registry,
                    container.readiness_checks,
                    container.caches,
                )
            )
            container.evm = await stack.enter_async_context(
                open_evm(
                    settings,
                    engine,
                    lambda: container.enclave,
                    container.clock,
                    container.chain.metrics if container.chain is not None else None,
                    registry,
                )
            )
            for service in services:
                if service.open is not None:
                    container.parts[service.name] = await stack.enter_async_context(service.open(container))
            yield container
    finally:
        if container.enclave_client is not None:
            await container.enclave_client.close()
        await engine.dispose()
        shutdown_tracing(tracing)


def _pool_capacity(settings: Settings) -> int:
    return settings.db_pool_size + settings.db_max_overflow


def scope_catalogue(services: Sequence[ServiceDescriptor] = SERVICES) -> ScopeCatalogue:
    """The kernel's scopes and every service's, with the roles that hold them (``ValueError``: a scope
    declared twice)."""
    return ScopeCatalogue(tuple(grant for service in services for grant in service.scopes))


def create_app(
    settings: Settings,
    *,
    migrate: bool | None = None,
    clock: Clock | None = None,
    services: Sequence[ServiceDescriptor] = SERVICES,
) -> FastAPI:
    """The HTTP API with every registered service's routes. ``clock`` replaces the system clock (tests)."""
    registry = create_registry("api")

    def open_api(_settings: Settings, role: str) -> AbstractAsyncContextManager[Container]:
        return open_container(
            settings, role, migrate=migrate, registry=registry, clock=clock, services=services
        )

    routers = [router for service in services for router in service.routers]
    return build_app(settings, open_api, registry=registry, routers=routers)


def served_app() -> FastAPI:
    """The app one of several API processes serves (``nsl serve`` with ``NSL_HTTP_WORKERS`` > 1).

    Settings come from the environment the supervisor passed on; the supervisor migrated first, so
    no process migrates beside another.
    """
    from neo_service_layer.kernel.commands import load_cli_settings
    from neo_service_layer.kernel.http.server import die_with_parent, freeze_after_startup

    die_with_parent()
    return freeze_after_startup(create_app(load_cli_settings(), migrate=False))


def worker_jobs(container: Container, services: Sequence[ServiceDescriptor] = SERVICES) -> list[PeriodicJob]:
    """The kernel's jobs (heartbeat, idempotency-key purge, sender balance, on PostgreSQL with a pool
    of two or more the new events' listener) and every service's."""
    jobs = [heartbeat_job(container), purge_job(container)]
    if listens(container.engine, _pool_capacity(container.settings)):
        jobs.append(listen_job(container.engine, container.new_events.ring))
    for service in services:
        if service.jobs is not None:
            jobs += service.jobs(container)
    if container.chain is None:
        log.info("no Neo network configured: chain jobs are off")
    elif container.chain.sender is not None:
        jobs.append(balance_job(container.chain))
    return jobs


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run every job until ``stop`` is set; each job's current iteration finishes first."""
    async with open_container(settings, "worker") as container:
        await run_jobs(container, worker_jobs(container), stop)


def chain_hooks(services: Sequence[ServiceDescriptor] = SERVICES) -> list[ChainHooks]:
    """What each service provisions on the local chain, in registry order."""
    return [service.chain for service in services]


def service_commands(
    opener: OpenContainer = open_container, services: Sequence[ServiceDescriptor] = SERVICES
) -> list[Command]:
    """Every service's ``nsl`` command groups, their commands opening containers with ``opener``."""
    return [command for service in services if service.commands for command in service.commands(opener)]
