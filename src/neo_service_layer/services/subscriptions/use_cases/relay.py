"""The embedded relay: fans out new outbox events to matching webhook subscriptions as delivery rows."""

from __future__ import annotations

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.subscriptions.ports import RelayStore
from neo_service_layer.services.subscriptions.use_cases.chain_source import deliverable

#: tenants per round, events per tenant per transaction
TENANTS_PER_ROUND = 100
EVENTS_PER_BATCH = 500


class Relay:
    def __init__(self, store: RelayStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def run_once(self) -> int:
        """Deliveries created this round."""
        created = 0
        for tenant_id in await self._store.behind(TENANTS_PER_ROUND):
            created += await self._store.fan_out(
                tenant_id, self._clock.now().timestamp(), EVENTS_PER_BATCH, deliverable
            )
        return created
