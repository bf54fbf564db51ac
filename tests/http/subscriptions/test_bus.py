"""RabbitMQ mode in one process against a real broker: the relay dispatches each subscription's due
head once (a dispatch lease marks it while its message is out), a consumer delivers it and goes on
with the next heads in order, a lost message is dispatched again after its lease, and a stale or
duplicate message is acknowledged and dropped without a second delivery."""

from __future__ import annotations

import asyncio

import aio_pika

from neo_service_layer.services.subscriptions.adapters.bus import RabbitBus, encode
from neo_service_layer.services.subscriptions.adapters.dispatch_store import SqlDispatchStore
from neo_service_layer.services.subscriptions.use_cases.dispatch import Dispatcher
from tests.http.subscriptions.bus_support import bus_queue, queued, rabbitmq_url
from tests.http.subscriptions.conftest import Api, Receiver

__all__ = ["bus_queue", "rabbitmq_url"]  # fixtures

LEASE = 30.0


async def _until(check: object, seconds: float = 60) -> None:
    """Wait for ``check()`` (a guard against a hang, not a timing assertion)."""
    async with asyncio.timeout(seconds):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_dispatch_consume_in_order_and_a_lost_message_goes_again(
    api: Api, receiver: Receiver, rabbitmq_url: str, bus_queue: str
) -> None:
    acme = await api.tenant("acme")
    _, secret = await acme.subscribe(["audit.security"], f"{receiver.base}/k/ok")
    assert secret
    receiver.secrets = {"/k/ok": secret}
    relay, sender = api.worker()
    bus = RabbitBus(rabbitmq_url, queue=bus_queue, reconnect_seconds=0.5)
    dispatcher = Dispatcher(SqlDispatchStore(api.container.engine), bus, api.clock, lease_seconds=LEASE)
    bus.start()
    await _until(lambda: bus.ready)
    try:
        first = await acme.publish(*["audit.security"] * 3)
        await relay.run_once()
        assert await dispatcher.run_once() == 1  # one message: the subscription's head
        assert await dispatcher.run_once() == 0  # not again while its message is out
        assert await queued(rabbitmq_url, bus_queue) == 1
        # the message is lost (a broker that restarts without it): nothing until the lease runs out
        connection = await aio_pika.connect(rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            purged = await (await channel.declare_queue(bus_queue, durable=True)).purge()
            assert purged.message_count == 1
        assert await dispatcher.run_once() == 0
        api.clock.advance(seconds=LEASE + 1)
        assert await dispatcher.run_once() == 1
        await bus.consume(sender.deliver_head)
        await _until(lambda: receiver.ids("/k/ok") == first)  # the consumer went on with the next heads
        # its message is handled once its burst ended (the last finish and the claim after it): no
        # task of it can take the next events before the dispatcher sees them
        await _until(lambda: bus.handled == 1)
        more = await acme.publish(*["audit.security"] * 40)
        await relay.run_once()
        assert await dispatcher.run_once() == 1
        await _until(lambda: receiver.ids("/k/ok") == first + more)
        await _until(lambda: bus.handled == 2)
        # a stale message (its head delivered) and a body that names nothing: acknowledged, dropped
        connection = await aio_pika.connect(rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            sub_id = (await acme.call("GET", "")).json()["subscriptions"][0]["subscriptionId"]
            handled = bus.handled
            for body in (encode(sub_id, int(first[0])), encode(sub_id, int(more[-1])), b"{not json"):
                await channel.default_exchange.publish(aio_pika.Message(body), routing_key=bus_queue)
        await _until(lambda: bus.handled == handled + 3)
        assert receiver.ids("/k/ok") == first + more  # each once, in order
        assert await queued(rabbitmq_url, bus_queue) == 0
        statuses = (await acme.call("GET", f"/{sub_id}")).json()["counts"]
        assert statuses == {"delivered": 43}
    finally:
        await bus.close()
