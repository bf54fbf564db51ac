"""The worker's clean-up of old events and finished deliveries, so neither table grows forever.

Each pass, tenant by tenant (the tenants with an outbox head), in bounded batches:

1. deliveries that were delivered or dead-lettered more than the retention
   (``NSL_SUBSCRIPTIONS_RETENTION_DAYS``) ago are deleted: a dead letter can be replayed until then;
2. outbox events older than the retention are deleted when the relay has fanned them out (at or below
   its cursor) and no delivery row of the tenant still refers to them or to an earlier event (a
   pending or younger dead delivery keeps its event, and every later one).

A stream resumed with a ``Last-Event-ID`` older than what is kept continues with the oldest event kept.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from neo_service_layer.kernel.batches import in_batches
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.subscriptions.ports import EventJanitor

log = get_logger("nsl.subscriptions")

#: rows deleted per statement, and statements per tenant and table per pass (the rest waits)
BATCH = 1000
BATCHES_PER_TENANT = 10


class EventRetention:
    def __init__(
        self,
        janitor: EventJanitor,
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

    async def run_once(self) -> tuple[int, int]:
        """One pass over every tenant: (deliveries deleted, events deleted)."""
        before = self._clock.now() - self._retention
        deliveries = events = 0
        for tenant_id in await self._janitor.tenants():
            finished = partial(self._janitor.delete_finished, tenant_id, before)
            deliveries += await in_batches(finished, self._batch, self._batches)
            old = partial(self._janitor.delete_events, tenant_id, before)
            events += await in_batches(old, self._batch, self._batches)
        if deliveries or events:
            log.info("old events and deliveries deleted", deliveries=deliveries, events=events)
        return deliveries, events
