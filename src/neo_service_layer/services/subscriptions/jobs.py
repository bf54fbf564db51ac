"""The worker's subscription jobs when a bus is configured (``NSL_BUS_URL``): the relay fans out and
then dispatches due heads to RabbitMQ (``use_cases.dispatch``), woken by new events as the polling
relay is, and a consumer delivers the heads the messages name (``Deliverer.deliver_head``), instead of
the polling delivery job. The connection is opened by the jobs' first runs, not at import; the
consumer's job closes it when the worker stops."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.services.subscriptions.adapters.bus import RabbitBus
from neo_service_layer.services.subscriptions.adapters.dispatch_store import SqlDispatchStore
from neo_service_layer.services.subscriptions.ports import BusUnavailable
from neo_service_layer.services.subscriptions.use_cases.deliver import Deliverer
from neo_service_layer.services.subscriptions.use_cases.dispatch import DISPATCH_LEASE_SECONDS, Dispatcher
from neo_service_layer.services.subscriptions.use_cases.relay import Relay

log = get_logger("nsl.subscriptions.bus")

#: how often the consumer's job checks that it is consuming (it starts once the broker answers)
CONSUMER_CHECK_EVERY = timedelta(seconds=1)
#: at most one "bus unavailable" warning per this many seconds
QUIET_SECONDS = 10.0


class _Quiet:
    def __init__(self) -> None:
        self._last = -QUIET_SECONDS

    def warn(self, exc: Exception, address: str) -> None:
        if time.monotonic() - self._last >= QUIET_SECONDS:
            self._last = time.monotonic()
            log.warning("bus unavailable; dispatching later", url=address, reason=str(exc))


def bus_jobs(
    dispatch_store: SqlDispatchStore,
    clock: Clock,
    bus: RabbitBus,
    relay: Relay,
    sender: Deliverer,
    *,
    relay_every: timedelta,
    wake: asyncio.Event | None = None,
    dispatch_lease: float = DISPATCH_LEASE_SECONDS,
) -> list[PeriodicJob]:
    dispatcher = Dispatcher(dispatch_store, bus, clock, lease_seconds=dispatch_lease)
    quiet = _Quiet()

    async def fan_out_and_dispatch() -> None:
        bus.start()
        await relay.run_once()
        try:
            await dispatcher.run_once()
        except BusUnavailable as exc:  # released: the next round (or the lease's end) dispatches them
            quiet.warn(exc, bus.address)

    async def consume() -> None:
        bus.start()
        if bus.ready:
            async with asyncio.timeout(30):
                await bus.consume(sender.deliver_head)

    async def close() -> None:
        sender.stop()  # the deliveries running end after their current attempt,
        await bus.close()  # which the bus waits for (up to its grace) once it stops consuming;
        await sender.close()  # then the poster's kept connections close

    return [
        PeriodicJob("subscriptions-relay", relay_every, fan_out_and_dispatch, wake=wake),
        PeriodicJob("subscriptions-consumer", CONSUMER_CHECK_EVERY, consume, close=close),
    ]
