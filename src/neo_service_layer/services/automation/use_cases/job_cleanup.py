"""The worker's clean-up of old tenant-job runs: delivered, failed and skipped runs finished more than
the retention (``NSL_AUTOMATION_JOB_RUN_RETENTION_DAYS``) ago are deleted, tenant by tenant (the
tenants come from the job index; each delete runs under the tenant's scope), in bounded batches. A
pending, running or retrying run is never deleted."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from neo_service_layer.kernel.batches import in_batches
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.automation.ports import JobRunJanitor

log = get_logger("nsl.automation")

#: rows deleted per statement, and statements per tenant per pass (the rest waits for the next pass)
BATCH = 500
BATCHES_PER_TENANT = 20


class JobRunCleanup:
    def __init__(
        self,
        janitor: JobRunJanitor,
        clock: Clock,
        *,
        retention_days: int,
        batch: int = BATCH,
        batches_per_tenant: int = BATCHES_PER_TENANT,
    ) -> None:
        if retention_days < 1 or batch < 1 or batches_per_tenant < 1:
            raise ValueError("retention, batch and batches must be positive")
        self._janitor = janitor
        self._clock = clock
        self._retention = timedelta(days=retention_days)
        self._batch = batch
        self._batches = batches_per_tenant

    async def run_once(self) -> int:
        """One pass over every tenant; how many runs it deleted."""
        before = self._clock.now() - self._retention
        total = 0
        for tenant_id in await self._janitor.tenants():
            total += await in_batches(
                partial(self._janitor.delete_finished, tenant_id, before), self._batch, self._batches
            )
        if total:
            log.info("automation job runs deleted", runs=total, before=before.isoformat())
        return total
