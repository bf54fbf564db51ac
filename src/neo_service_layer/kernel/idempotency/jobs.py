"""The worker's purge of expired idempotency keys."""

from __future__ import annotations

from datetime import timedelta

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.idempotency.adapters import SqlKeyStore
from neo_service_layer.kernel.idempotency.use_cases import Idempotency
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.worker.jobs import PeriodicJob

PURGE_EVERY = timedelta(hours=1)

log = get_logger("nsl.idempotency")


def purge_job(container: Container) -> PeriodicJob:
    """Hourly: delete the keys whose time to live ended (a repeat never replays them anyway)."""
    # the purge computes no fingerprint: no KEK is needed for it
    idempotency = Idempotency(
        SqlKeyStore(container.engine),
        container.clock,
        ttl=timedelta(seconds=container.settings.idempotency_ttl_seconds),
        pepper=str,
    )

    async def purge() -> None:
        removed = await idempotency.purge()
        if removed:
            log.info("expired idempotency keys purged", removed=removed)

    return PeriodicJob("idempotency-purge", PURGE_EVERY, purge)
