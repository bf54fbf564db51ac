"""Per-endpoint limits and circuits against real loopback endpoints: subscriptions of two tenants at
one hanging endpoint take at most the limit of the worker's slots (open connections counted by the
server) while another endpoint is served; a dead endpoint costs a few attempts over many rounds, and
once back gets everything in order, once per id; the bus path defers a head of a busy endpoint
without losing it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from neo_service_layer.services.subscriptions.adapters.delivery_store import DISPATCHED
from neo_service_layer.services.subscriptions.adapters.dispatch_store import SqlDispatchStore
from neo_service_layer.services.subscriptions.adapters.store import D
from neo_service_layer.services.subscriptions.rules.endpoints import Policy
from tests.http.subscriptions.conftest import Api, Receiver, Tenant
from tests.http.subscriptions.endpoint_server import EndpointServer, free_port

LIMIT = Policy().limit


@pytest.fixture
async def hanging() -> AsyncIterator[EndpointServer]:
    server = EndpointServer(hold=True)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _subscribe(tenant: Tenant, base: str, paths: list[str]) -> list[str]:
    return [(await tenant.subscribe(["audit.security"], f"{base}{path}"))[0] for path in paths]


def _deferred(api: Api, reason: str) -> float:
    value = api.container.registry.get_sample_value(
        "nsl_subscription_deliveries_deferred_total", {"reason": reason}
    )
    return value or 0.0


async def _until(check: object, sender: object = None) -> None:
    """Wait for ``check()``, starting rounds meanwhile (a guard against a hang, not a timing one)."""
    async with asyncio.timeout(30):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.02)
            if sender is not None:
                await sender.run_once()  # type: ignore[attr-defined]


async def test_a_hanging_endpoint_takes_at_most_its_limit_and_others_go_on(
    api: Api, receiver: Receiver, hanging: EndpointServer
) -> None:
    acme, globex = await api.tenant("acme"), await api.tenant("globex")
    slow_paths = [f"/s{i}" for i in range(10)]
    await _subscribe(acme, hanging.base, slow_paths[:5])
    await _subscribe(globex, hanging.base, slow_paths[5:])
    _, quick = await acme.subscribe(["audit.security"], f"{receiver.base}/q/ok")
    assert quick
    receiver.secrets = {"/q/ok": quick}
    [first] = await acme.publish("audit.security")
    [other] = await globex.publish("audit.security")
    relay, sender = api.worker()
    await relay.run_once()
    assert await sender.run_once() == LIMIT + 1  # the quick one and LIMIT of the ten
    await _until(lambda: hanging.open == LIMIT)
    busy = _deferred(api, "busy")
    assert busy >= 10 - LIMIT
    # the quick endpoint is served while LIMIT connections hang at the other one
    await _until(lambda: receiver.ids("/q/ok") == [first], sender)
    for _ in range(5):
        assert await sender.run_once() == 0  # nothing more to the hanging endpoint
    assert hanging.max_open == LIMIT
    assert _deferred(api, "busy") == busy  # passed over: remembered, not read and counted again
    acme_more = await acme.publish("audit.security")
    await relay.run_once()
    await _until(lambda: receiver.ids("/q/ok") == [first, *acme_more], sender)
    assert hanging.open == LIMIT
    hanging.release.set()  # answered: the rest go, still at most LIMIT at once
    hanging.hold = False
    async with asyncio.timeout(60):
        while sum(len(hanging.ids(p)) for p in slow_paths) < 10 + 5:
            await api.round(relay, sender)
    await sender.drain()
    for path in slow_paths[:5]:
        assert hanging.ids(path) == [first, acme_more[0]], path  # in order, once
    for path in slow_paths[5:]:
        assert hanging.ids(path) == [other], path
    assert hanging.max_open == LIMIT


async def test_a_dead_endpoint_costs_few_attempts_then_gets_everything_in_order(
    api: Api, receiver: Receiver
) -> None:
    dead = EndpointServer(port=free_port())
    acme = await api.tenant("acme")
    paths = [f"/d{i}" for i in range(12)]
    sub_ids = await _subscribe(acme, dead.base, paths)
    ids = await acme.publish(*["audit.security"] * 3)
    relay, sender = api.worker()
    policy = Policy()
    for _ in range(10):  # a minute of rounds: every first retry (at most 5 s) falls due meanwhile
        await api.round(relay, sender)
        api.clock.advance(seconds=6)
    attempts = {}
    for sub_id in sub_ids:
        rows = (await acme.call("GET", f"/{sub_id}/deliveries")).json()["deliveries"]
        assert [r["status"] for r in rows] == ["pending"] * 3
        attempts[sub_id] = sum(r["attempts"] for r in rows)
    # two rounds of LIMIT before the circuit opened (5 failures), then one probe per cool-down (30 s):
    # without it each of the 12 would have been tried at least twice
    assert sum(attempts.values()) <= 2 * LIMIT + 60 // policy.cool_down + 1
    assert sorted(attempts.values())[0] == 0  # some were never tried: deferred, no attempt counted
    assert _deferred(api, "open") > 0
    await dead.start()  # it comes back
    try:
        async with asyncio.timeout(60):
            while any(dead.ids(p) != ids for p in paths):
                api.clock.advance(minutes=6)  # past the retries and the cool-down
                await api.round(relay, sender)
        for path in paths:
            assert dead.ids(path) == ids, path  # in order, each id once
        for sub_id in sub_ids:
            counts = (await acme.call("GET", f"/{sub_id}")).json()["counts"]
            assert counts == {"delivered": 3}
        assert dead.max_open <= LIMIT
    finally:
        await dead.stop()


async def test_a_bus_message_for_a_busy_endpoint_is_dispatched_again_not_lost(
    api: Api, hanging: EndpointServer
) -> None:
    acme = await api.tenant("acme")
    paths = [f"/b{i}" for i in range(LIMIT + 2)]
    await _subscribe(acme, hanging.base, paths)
    [event] = await acme.publish("audit.security")
    relay, sender = api.worker()
    await relay.run_once()
    dispatch = SqlDispatchStore(api.container.engine)
    now = api.clock.now().timestamp()
    heads = await dispatch.dispatch(now, now + 60, 100)  # as the relay marks what it publishes
    assert len(heads) == LIMIT + 2
    handled = [asyncio.create_task(sender.deliver_head(sub, ev)) for sub, ev in heads]
    await _until(lambda: hanging.open == LIMIT and sum(t.done() for t in handled) == 2)
    refused = [heads[i] for i, t in enumerate(handled) if t.done()]
    assert [t.result() for t in handled if t.done()] == [False, False]
    async with api.container.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(D.c.subscription_id, D.c.attempts, D.c.worker, D.c.lease_until).where(
                    D.c.subscription_id.in_([sub for sub, _ in refused])
                )
            )
        ).all()
    for row in rows:  # not claimed: no attempt, still marked, its dispatch lease shortened
        assert (row.attempts, row.worker) == (0, DISPATCHED)
        assert row.lease_until < now + 60
    hanging.release.set()
    assert all(await asyncio.gather(*(t for t in handled if not t.done())))
    api.clock.advance(seconds=2)
    now = api.clock.now().timestamp()
    again = await dispatch.dispatch(now, now + 60, 100)
    assert sorted(again) == sorted(refused)  # dispatched again: the message was not lost
    assert all([await sender.deliver_head(sub, ev) for sub, ev in again])
    for path in paths:
        assert hanging.ids(path) == [str(event)], path
