"""With a bus (``NSL_BUS_URL``) the relay, after its fan-out, *dispatches*: each subscription's due
head that no lease holds is marked in the database with a dispatch lease (so no second message goes
out for it while one is on the bus) and published as one persistent message, confirmed by the broker.
Consumers claim the head a message names (``Deliverer.deliver_head``); a message that was lost (a
broker restart) or whose consumer died leaves a head whose lease runs out, and the next round
dispatches it again. A batch the broker did not confirm is released at once for the next round."""

from __future__ import annotations

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.subscriptions.ports import Bus, BusUnavailable, DispatchStore

#: a dispatched head is not dispatched again before this (its message is presumed lost after it)
DISPATCH_LEASE_SECONDS = 60.0
#: heads dispatched per round at most
DISPATCH_LIMIT = 1000


class Dispatcher:
    def __init__(
        self,
        store: DispatchStore,
        bus: Bus,
        clock: Clock,
        *,
        lease_seconds: float = DISPATCH_LEASE_SECONDS,
        limit: int = DISPATCH_LIMIT,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._lease = lease_seconds
        self._limit = limit

    async def run_once(self) -> int:
        """Heads dispatched this round (``BusUnavailable``: none; the marks were released)."""
        if not self._bus.ready:  # nothing is marked while the broker is away
            raise BusUnavailable("not connected to the bus")
        now = self._clock.now().timestamp()
        heads = await self._store.dispatch(now, now + self._lease, self._limit)
        if not heads:
            return 0
        try:
            await self._bus.publish(heads)
        except BusUnavailable:
            await self._store.release(heads)
            raise
        return len(heads)
