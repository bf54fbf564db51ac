"""RabbitMQ as the subscriptions' work bus (``NSL_BUS_URL``; implements ``ports.Bus``), over aio-pika.

The database stays the source of truth; a message ``{"subscriptionId", "eventId"}`` only says "this
head is due": persistent, on one durable queue, each publish confirmed by the broker (publisher
confirms). Consumers take them with manual acknowledgement and a prefetch, and acknowledge after the
handler returned (the delivery is finished in the database by then); a consumer that dies leaves its
unacknowledged messages to the broker, which gives them to another.

The connection is opened by :meth:`RabbitBus.start` (a worker job's first run, never at import) with
``connect_robust``: while the broker is down it tries again every ``reconnect_seconds`` and restores the
channels, the queue and the consumer when it is back. Logs show the URL without its password.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from neo_service_layer.kernel.config_values import mask_url_password
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.tasks import cancel_and_wait
from neo_service_layer.services.subscriptions.ports import BusUnavailable, HeadHandler

log = get_logger("nsl.subscriptions.bus")

QUEUE = "nsl.subscriptions.deliveries"
#: unacknowledged messages one consumer holds at once (subscriptions it delivers to at once)
PREFETCH = 32
RECONNECT_SECONDS = 5.0
#: a batch of publishes must be confirmed within this time
CONFIRM_SECONDS = 10.0
#: a stopping consumer waits this long for the deliveries it is running
STOP_GRACE_SECONDS = 15.0


def encode(subscription_id: str, event_id: int) -> bytes:
    return json.dumps(
        {"subscriptionId": subscription_id, "eventId": event_id}, separators=(",", ":")
    ).encode()


def decode(body: bytes) -> tuple[str, int] | None:
    """The head a message names, or ``None`` for a body that is not one (dropped)."""
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    sub, event = value.get("subscriptionId"), value.get("eventId")
    if not isinstance(sub, str) or not 0 < len(sub) <= 40 or type(event) is not int or event < 1:
        return None
    return sub, event


class RabbitBus:
    def __init__(
        self,
        url: str,
        *,
        queue: str = QUEUE,
        prefetch: int = PREFETCH,
        reconnect_seconds: float = RECONNECT_SECONDS,
        confirm_seconds: float = CONFIRM_SECONDS,
    ) -> None:
        if not url.startswith(("amqp://", "amqps://")):
            raise ValueError(f"NSL_BUS_URL must be an amqp:// or amqps:// URL, not {mask_url_password(url)}")
        self._url = url
        self._queue_name = queue
        self._prefetch = prefetch
        self._reconnect = reconnect_seconds
        self._confirm = confirm_seconds
        self._connecting: asyncio.Task[AbstractRobustConnection] | None = None
        self._publisher: AbstractRobustChannel | None = None
        self._queue: AbstractRobustQueue | None = None
        self._consumer_tag: str | None = None
        self._busy = 0
        #: messages this consumer has finished with (acknowledged, or its channel was gone)
        self.handled = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def address(self) -> str:
        """The URL without its password."""
        return mask_url_password(self._url)

    def start(self) -> None:
        """Begin connecting in the background (idempotent)."""
        if self._connecting is None:
            log.info("connecting to the bus", url=self.address, queue=self._queue_name)
            self._connecting = asyncio.create_task(self._connect(), name="subscriptions-bus-connect")

    async def _connect(self) -> AbstractRobustConnection:
        # fail_fast off: the first connection is retried too, every reconnect_seconds, until it works
        return await aio_pika.connect_robust(
            self._url,
            reconnect_interval=self._reconnect,
            fail_fast=False,
            client_properties={"connection_name": "nsl-subscriptions"},
        )

    async def connection(self) -> AbstractRobustConnection:
        self.start()
        assert self._connecting is not None
        return await asyncio.shield(self._connecting)

    @property
    def ready(self) -> bool:
        """Connected now (publishing would be tried)."""
        task = self._connecting
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return False
        return not task.result().is_closed and task.result().connected.is_set()

    async def _publishing_channel(self) -> AbstractRobustChannel:
        if self._publisher is None:
            connection = await self.connection()
            channel = await connection.channel(publisher_confirms=True)
            await channel.declare_queue(self._queue_name, durable=True)
            self._publisher = channel
        return self._publisher

    async def publish(self, heads: Sequence[tuple[str, int]]) -> None:
        if not self.ready:
            raise BusUnavailable("not connected to the bus")
        try:
            async with asyncio.timeout(self._confirm):
                channel = await self._publishing_channel()
                exchange = channel.default_exchange
                await asyncio.gather(
                    *(
                        exchange.publish(
                            aio_pika.Message(
                                encode(sub, event),
                                content_type="application/json",
                                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                message_id=f"{sub}:{event}",
                            ),
                            routing_key=self._queue_name,
                            mandatory=True,
                        )
                        for sub, event in heads
                    )
                )
        except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
            raise BusUnavailable(f"the bus did not confirm: {type(exc).__name__}") from exc

    async def consume(self, handler: HeadHandler) -> None:
        """Start consuming with ``handler`` (idempotent; waits for the connection the first time)."""
        if self._queue is not None:
            return
        connection = await self.connection()
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        queue = await channel.declare_queue(self._queue_name, durable=True)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._handle(handler, message)

        self._consumer_tag = await queue.consume(on_message)
        self._queue = queue
        log.info("consuming deliveries from the bus", url=self.address, queue=self._queue_name)

    async def _handle(self, handler: HeadHandler, message: AbstractIncomingMessage) -> None:
        self._busy += 1
        self._idle.clear()
        try:
            head = decode(message.body)
            if head is None:
                log.warning("dropped a message that names no delivery", message_id=message.message_id)
            else:
                try:
                    await handler(*head)
                except Exception:  # the head stays pending: dispatched again after its lease
                    log.exception("delivery from the bus failed", subscription=head[0])
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                # a channel lost meanwhile: the broker gives the message again; its claim drops it
                await message.ack()
        finally:
            self.handled += 1
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()

    async def close(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop consuming, let the running deliveries finish (up to ``grace``), close the connection."""
        if self._queue is not None and self._consumer_tag is not None:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS, TimeoutError):
                async with asyncio.timeout(grace):
                    await self._queue.cancel(self._consumer_tag)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        task, self._connecting = self._connecting, None
        if task is None:
            return
        if not task.done():
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await cancel_and_wait(task)
            return
        if not task.cancelled() and task.exception() is None:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await task.result().close()
