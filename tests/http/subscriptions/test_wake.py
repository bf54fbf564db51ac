"""The worker's subscription jobs are woken, not only polled: on PostgreSQL a committed event wakes the
relay through the ``events-listener`` (``NOTIFY`` at commit), on both databases a relay round that made
deliveries wakes the delivery job. Every interval here is an hour and events are published only once
the jobs are idle, so a webhook that arrives was sent because of the wakes; and the listener reconnects
when its connection is killed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest

from neo_service_layer.bootstrap import worker_jobs
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.events.listener import EventListener
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.kernel.worker.runner import _loop
from neo_service_layer.services.subscriptions import service
from tests.http.subscriptions.conftest import Api, Receiver

HOUR = timedelta(hours=1)
GUARD = 20.0  # seconds: a hang guard, not a measurement


@dataclass
class Watched:
    """A production job with its runs counted, to know when it is idle."""

    job: PeriodicJob
    runs: int = 0
    busy: bool = False

    def idle_after(self, runs: int) -> bool:
        woken = self.job.wake is not None and self.job.wake.is_set()
        return self.runs >= runs and not self.busy and not woken

    def counted(self) -> PeriodicJob:
        async def run() -> None:
            self.busy = True
            try:
                await self.job.run()
            finally:
                self.busy = False
                self.runs += 1

        job = self.job
        return PeriodicJob(job.name, job.interval, run, close=job.close, wake=job.wake)


def _jobs(container: Container, monkeypatch: pytest.MonkeyPatch) -> tuple[Watched, Watched]:
    """The relay and the delivery job as the worker runs them, polling once an hour."""
    monkeypatch.setattr(service, "RELAY_EVERY", HOUR)
    monkeypatch.setattr(service, "DELIVER_EVERY", HOUR)
    found = {j.name: j for j in service.subscription_jobs(container)}
    relay, delivery = found["subscriptions-relay"], found["subscriptions-delivery"]
    assert relay.interval == delivery.interval == HOUR
    return Watched(relay), Watched(delivery)


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(GUARD):
        while not condition():
            await asyncio.sleep(0.01)


async def _subscribed(api: Api, receiver: Receiver) -> object:
    acme = await api.tenant("acme")
    _, secret = await acme.subscribe(["audit.*"], f"{receiver.base}/a/ok")
    assert secret
    receiver.secrets = {"/a/ok": secret}
    return acme


async def test_a_relay_round_with_new_deliveries_wakes_the_delivery_job(
    api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = await _subscribed(api, receiver)
    relay, delivery = _jobs(api.container, monkeypatch)
    stop = asyncio.Event()
    loops = [asyncio.create_task(_loop(w.counted(), stop)) for w in (relay, delivery)]
    try:
        await _until(lambda: relay.idle_after(1) and delivery.idle_after(1))
        [first] = await acme.publish("audit.security")  # type: ignore[attr-defined]
        api.container.new_events.ring(None)  # what the listener does on PostgreSQL
        await _until(lambda: receiver.ids("/a/ok") == [first])
        assert delivery.runs == 2  # its first run and the one the relay's round woke
    finally:
        stop.set()
        await asyncio.gather(*loops)


@pytest.mark.postgres
@pytest.mark.parametrize("backend_settings", ["postgres"], indirect=True)
async def test_a_committed_event_wakes_the_relay_and_the_listener_reconnects(
    api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, postgres_admin_url: str
) -> None:
    container = api.container
    assert "events-listener" in {j.name for j in worker_jobs(container)}
    acme = await _subscribed(api, receiver)
    relay, delivery = _jobs(container, monkeypatch)
    listener = EventListener(container.engine, container.new_events.ring)
    listen = PeriodicJob("events-listener", timedelta(seconds=0.05), listener.ensure, close=listener.close)
    stop = asyncio.Event()
    loops = [asyncio.create_task(_loop(job, stop)) for job in (relay.counted(), delivery.counted(), listen)]
    try:
        # the relay's first run, then the one the listener's connection woke (events it may have missed)
        await _until(lambda: listener.listening and relay.idle_after(2) and delivery.idle_after(1))
        assert listener.connections == 1
        [first] = await acme.publish("audit.security")  # type: ignore[attr-defined]
        await _until(lambda: receiver.ids("/a/ok") == [first])

        admin = await asyncpg.connect(postgres_admin_url)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1 AND query LIKE 'LISTEN%'",
                container.engine.url.database,
            )
        finally:
            await admin.close()
        assert killed == 2  # this worker's listener and the API's (the app under test is an API process)
        runs, connections = relay.runs, listener.connections
        # listening again on a new connection (how long it was not listening is too short to observe:
        # the job reconnects within its 50 ms interval), and the reconnection woke the relay
        await _until(lambda: listener.connections == connections + 1 and listener.listening)
        await _until(lambda: relay.idle_after(runs + 1))
        [second] = await acme.publish("audit.security")  # type: ignore[attr-defined]
        await _until(lambda: receiver.ids("/a/ok") == [first, second])
    finally:
        stop.set()
        await asyncio.gather(*loops)
    assert not listener.listening  # closed with the worker
