"""Composition root: builds adapters from settings and hands them to services.

The API, the worker and the CLI all open a :class:`Container` through :func:`open_container`, inside
their lifespan, so no resource is opened at import time and every resource is closed on shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.errors import DependencyUnavailable
from neo_service_layer.kernel.chain.setup import ChainParts, open_chain
from neo_service_layer.kernel.clock import Clock, SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.health import DatabaseCheck
from neo_service_layer.kernel.db.heartbeats import WorkersCheck
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.health import EnclaveCheck
from neo_service_layer.kernel.enclave_client.health import not_configured as enclave_not_configured
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.health.ports import ReadinessCheck
from neo_service_layer.kernel.identity.setup import Identity, open_identity, use_app_role
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.observability.metrics import ComponentMetrics, EnclaveMetrics, create_registry
from neo_service_layer.kernel.observability.tracing import configure_tracing, shutdown_tracing
from neo_service_layer.services.keys.adapters.repositories import sealed_record_loader
from neo_service_layer.services.keys.setup import KeyServices, build_key_services, rotation_gauge

log = get_logger("nsl.bootstrap")

#: a worker that has not written its heartbeat for this long is not counted as active
WORKER_FRESHNESS = timedelta(seconds=30)


class EnclaveNotConfigured(DependencyUnavailable):
    """An operation needs the enclave but this process was started without one."""


@dataclass
class Container:
    """Everything a process role needs, built once per process."""

    settings: Settings
    role: str
    engine: AsyncEngine
    registry: CollectorRegistry
    component_metrics: ComponentMetrics
    clock: Clock = field(default_factory=SystemClock)
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    #: the enclave client; ``None`` when no enclave token is configured (API-only development)
    enclave_client: EnclaveClient | None = None

    @property
    def enclave(self) -> Enclave:
        """The enclave, or ``DependencyUnavailable`` (503) when this process has none configured."""
        if self.enclave_client is None:
            raise EnclaveNotConfigured("no enclave is configured for this process (NSL_ENCLAVE_TOKEN)")
        return self.enclave_client

    #: authentication, tenants, API keys, audit log and rate limiter (see ``bootstrap_identity``)
    identity: Identity | None = None

    @property
    def iam(self) -> Identity:
        """The identity components; set for every role once the container is open."""
        if self.identity is None:
            raise RuntimeError("container is not open")
        return self.identity

    #: keys, secrets and attestation services (see ``bootstrap_keys``)
    key_services: KeyServices | None = None

    @property
    def vault(self) -> KeyServices:
        """The keys, secrets and attestation services; set for every role once the container is open."""
        if self.key_services is None:
            raise RuntimeError("container is not open")
        return self.key_services

    #: Neo network, chain adapter and chain services (see ``bootstrap_chain``); ``None`` without a network
    chain_parts: ChainParts | None = None

    def unit_of_work(self, tenant_id: str | None = None) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id)


@asynccontextmanager
async def open_container(
    settings: Settings,
    role: str,
    *,
    migrate: bool | None = None,
    registry: CollectorRegistry | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Container]:
    """Open every resource for ``role``; migrate first when asked (default: development only)."""
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
        async with open_identity(settings, engine, container.clock) as identity:
            container.identity = identity
            container.key_services = build_key_services(
                settings, engine, lambda: container.enclave, identity.audit_log, container.clock, registry
            )
            checks = container.readiness_checks
            async with open_chain(
                settings, engine, lambda: container.enclave, container.clock, registry, checks
            ) as chain_parts:
                container.chain_parts = chain_parts
                if role == "api":
                    async with rotation_gauge(container.key_services):
                        yield container
                else:
                    yield container
    finally:
        if container.enclave_client is not None:
            await container.enclave_client.close()
        await engine.dispose()
        shutdown_tracing(tracing)
