"""What a process holds once it is open: the kernel's resources and each service's parts.

Built by the composition root (``neo_service_layer.bootstrap.open_container``) inside a lifespan, never
at import time. Services find their own parts here by name (``container.parts_of(name, kind)``); the
kernel never needs to know their types.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.errors import DependencyUnavailable
from neo_service_layer.kernel.cache.adapters.factory import CacheFactory
from neo_service_layer.kernel.clock import Clock, SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.events.bell import EventBell
from neo_service_layer.kernel.health.ports import ReadinessCheck
from neo_service_layer.kernel.observability.metrics import ComponentMetrics

if TYPE_CHECKING:
    from neo_service_layer.kernel.chain.evm_parts import EvmKernel
    from neo_service_layer.kernel.chain.parts import ChainKernel
    from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
    from neo_service_layer.kernel.identity.parts import Identity

T = TypeVar("T")


class EnclaveNotConfigured(DependencyUnavailable):
    """An operation needs the enclave but this process was started without one."""


class ServiceNotOpen(DependencyUnavailable):
    """A service's parts were asked for before the container opened them (or it is not registered)."""


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
    #: authentication, tenants, API keys, audit log and rate limiter (see ``kernel.identity.parts``)
    identity: Identity | None = None
    #: Neo network, chain adapter, request store and metrics; ``None`` without a configured network
    chain: ChainKernel | None = None
    #: the EVM chain (Neo X): chain, sender, request store; ``None`` without one configured
    evm: EvmKernel | None = None
    #: which enclave key plays which role (platform keys), readable with or without a network
    role_keys: RoleKeyStore | None = None
    #: makes the process's read-through caches on its invalidation bus (``kernel/cache``)
    caches: CacheFactory | None = None
    #: each open service's parts, by service name
    parts: dict[str, object] = field(default_factory=dict)
    #: rung when new tenant events committed (the listener, PostgreSQL): wakes the subscriptions
    #: relay (worker) and the event streams (API)
    new_events: EventBell = field(default_factory=EventBell)

    @property
    def enclave(self) -> Enclave:
        """The enclave, or ``DependencyUnavailable`` (503) when this process has none configured."""
        if self.enclave_client is None:
            raise EnclaveNotConfigured("no enclave is configured for this process (NSL_ENCLAVE_TOKEN)")
        return self.enclave_client

    @property
    def iam(self) -> Identity:
        """The identity components; set for every role once the container is open."""
        if self.identity is None:
            raise RuntimeError("container is not open")
        return self.identity

    @property
    def platform_keys(self) -> RoleKeyStore:
        """Where platform keys are remembered; set for every role once the container is open."""
        if self.role_keys is None:
            raise RuntimeError("container is not open")
        return self.role_keys

    def parts_of(self, name: str, kind: type[T]) -> T:
        """The parts the service ``name`` opened, checked to be a ``kind``."""
        found = self.parts.get(name)
        if not isinstance(found, kind):
            raise ServiceNotOpen(f"the {name} service is not open in this process")
        return found

    def unit_of_work(self, tenant_id: str | None = None) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id)


#: the composition root's way to open a process's container: ``open_container(settings, role)``
OpenContainer: TypeAlias = Callable[[Settings, str], AbstractAsyncContextManager[Container]]
