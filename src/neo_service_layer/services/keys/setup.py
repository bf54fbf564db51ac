"""The keys part of the composition root: keys, secrets and attestation services, and their metrics.

Called by :func:`neo_service_layer.bootstrap.open_container`. The services reach the enclave through a
callable, so a process without an enclave still starts and answers 503 only when one is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.observability.metrics import KeyMetrics
from neo_service_layer.services.attestation.adapters.verifier import ReportVerifier
from neo_service_layer.services.attestation.use_cases import AttestationService
from neo_service_layer.services.keys.adapters.public_keys import PublicKeyOperations
from neo_service_layer.services.keys.adapters.repositories import keys_uow_factory
from neo_service_layer.services.keys.use_cases.keys import KeysService
from neo_service_layer.services.secrets.adapters.sources import build_secret_source
from neo_service_layer.services.secrets.use_cases.secrets import SecretsService

log = get_logger("nsl.keys")

ROTATION_GAUGE_INTERVAL = timedelta(seconds=60)


@dataclass
class KeyServices:
    keys: KeysService
    secrets: SecretsService
    attestation: AttestationService
    metrics: KeyMetrics

    async def refresh_rotation_gauge(self) -> int:
        due = len(await self.keys.rotation_due())
        self.metrics.rotation_due.set(due)
        return due


def build_key_services(
    settings: Settings,
    engine: AsyncEngine,
    enclave: Callable[[], Enclave],
    audit: AuditLog,
    clock: Clock,
    registry: CollectorRegistry,
) -> KeyServices:
    uow = keys_uow_factory(engine)
    return KeyServices(
        keys=KeysService(
            uow=uow,
            enclave=enclave,
            audit=audit,
            clock=clock,
            crypto=PublicKeyOperations(),
            max_age=timedelta(days=settings.key_max_age_days),
        ),
        secrets=SecretsService(
            uow=uow, enclave=enclave, audit=audit, clock=clock, sources=build_secret_source
        ),
        attestation=AttestationService(
            uow=uow, enclave=enclave, audit=audit, verifier=ReportVerifier(settings)
        ),
        metrics=KeyMetrics(registry),
    )


@asynccontextmanager
async def rotation_gauge(
    services: KeyServices, interval: timedelta = ROTATION_GAUGE_INTERVAL
) -> AsyncIterator[None]:
    """Keep ``nsl_keys_rotation_due`` current in the background while the context is open."""

    async def loop() -> None:
        while True:
            try:
                await services.refresh_rotation_gauge()
            except Exception:
                log.exception("could not count keys due for rotation")
            await asyncio.sleep(interval.total_seconds())

    task = asyncio.create_task(loop(), name="nsl-rotation-gauge")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
