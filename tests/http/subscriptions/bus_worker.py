"""A delivery worker process for the RabbitMQ test (``python -m tests.http.subscriptions.bus_worker``):
the production wiring of ``nsl worker`` with ``NSL_BUS_URL`` (``services.subscriptions.jobs.bus_jobs``:
relay + dispatcher, consumer) run by the worker's runner, with the numbers a test can wait for: a 0.1 s
relay round, short leases, a short poster timeout and a retry schedule of milliseconds. Settings come
from the ``NSL_*`` environment; ``NSL_TEST_BUS_QUEUE`` names the queue. Stops on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

from neo_service_layer.bootstrap import open_container
from neo_service_layer.kernel.config import load_settings
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.kernel.worker.jobs import worker_identity
from neo_service_layer.kernel.worker.runner import run_jobs
from neo_service_layer.services.secrets.api import SourceUrlPolicy
from neo_service_layer.services.subscriptions.adapters.bus import RabbitBus
from neo_service_layer.services.subscriptions.adapters.delivery_store import SqlDeliveryStore, SqlRelayStore
from neo_service_layer.services.subscriptions.adapters.dispatch_store import SqlDispatchStore
from neo_service_layer.services.subscriptions.adapters.sender import GuardedPoster
from neo_service_layer.services.subscriptions.jobs import bus_jobs
from neo_service_layer.services.subscriptions.parts import NAME, SubscriptionParts
from neo_service_layer.services.subscriptions.rules.endpoints import Policy
from neo_service_layer.services.subscriptions.use_cases.deliver import Deliverer
from neo_service_layer.services.subscriptions.use_cases.relay import Relay

POSTER_TIMEOUT = 0.3
LEASE = 5.0
DISPATCH_LEASE = 3.0
RELAY_EVERY = timedelta(seconds=0.1)
#: the three paths share one origin and /flaky fails half of its attempts, so the circuit opens at a
#: run of failures (held for the cool-down, then a probe). At the default run of 5 the odds open it
#: about every 62 attempts once /flaky is left alone (its 20,000 attempts: some 300 times), which was
#: more than a quarter of the test's time (157 s, against 112 s with the circuit never opening; one
#: run each, alone on 2 cores). A run of 8 opens it about every 510 attempts, a few dozen times, still
#: amid the kill and the broker restart (115 s and 114 s, two runs)
CIRCUIT = Policy(cool_down=0.2, failures=8)


def fast_retry(attempts: int, first_attempt_at: float, now: float, draw: float) -> float | None:
    """Retries within milliseconds (the production schedule spans three days); dead after 60."""
    return None if attempts >= 60 else now + 0.002 * draw


async def main() -> None:
    settings = load_settings()
    assert settings.bus_url is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_container(settings, "worker", migrate=False) as container:
        engine, clock = container.engine, container.clock
        policy = SourceUrlPolicy.of(settings.oracle_allow_hosts, settings.oracle_allow_http)
        sender = Deliverer(
            SqlDeliveryStore(engine),
            GuardedPoster(policy, timeout=POSTER_TIMEOUT),
            AesGcmBox(resolve_kek(settings)),
            clock,
            container.parts_of(NAME, SubscriptionParts).metrics,
            worker_id=worker_identity(),
            lease_seconds=LEASE,
            retry=fast_retry,
            wait_retry_within=0.05,
            endpoints=CIRCUIT,
        )
        bus = RabbitBus(
            settings.bus_url.get_secret_value(), queue=os.environ["NSL_TEST_BUS_QUEUE"], reconnect_seconds=0.5
        )
        relay = Relay(SqlRelayStore(engine), clock)
        jobs = bus_jobs(
            SqlDispatchStore(engine),
            clock,
            bus,
            relay,
            sender,
            relay_every=RELAY_EVERY,
            dispatch_lease=DISPATCH_LEASE,
        )
        await run_jobs(container, jobs, stop)


if __name__ == "__main__":
    asyncio.run(main())
