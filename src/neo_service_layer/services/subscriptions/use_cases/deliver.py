"""Webhook deliveries: each round claims the due head of each subscription (its oldest pending event)
not already in flight here, up to ``MAX_IN_FLIGHT`` across subscriptions, and sends each in its own task
that outlives the round: a slow endpoint holds only its own subscription (for at most the poster's
timeout) while the others go on. 2xx: delivered; 410 Gone: the subscription is disabled (the delivery
stays pending and goes out if the tenant resumes it); anything else: retried per ``rules.retry``, then
dead-lettered."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import datetime

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.subscriptions.ports import (
    Claim,
    DeliveryObserver,
    DeliveryStatus,
    DeliveryStore,
    Poster,
    SecretBox,
    StoredEvent,
)
from neo_service_layer.services.subscriptions.rules.retry import next_retry
from neo_service_layer.services.subscriptions.rules.signing import headers
from neo_service_layer.services.subscriptions.use_cases.manage import secret_label

log = get_logger("nsl.subscriptions")

#: subscriptions sent to at once by one worker
MAX_IN_FLIGHT = 32
#: a claim's lease (longer than one attempt's timeout); a worker that dies leaves it to another after it
LEASE_SECONDS = 60.0


def event_json(event: StoredEvent) -> bytes:
    """The Standard Webhooks payload: ``type``, ``timestamp`` (the event's) and ``data``, plus its id;
    the same object is an SSE event's ``data``."""
    occurred = event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data = json.loads(event.data)
    return json.dumps(
        {"id": event.event_id, "type": event.type, "timestamp": occurred, "data": data}, separators=(",", ":")
    ).encode()


class Deliverer:
    def __init__(
        self,
        store: DeliveryStore,
        poster: Poster,
        box: SecretBox,
        clock: Clock,
        observer: DeliveryObserver,
        *,
        worker_id: str,
        draw: Callable[[], float] = random.random,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._store = store
        self._poster = poster
        self._box = box
        self._clock = clock
        self._observer = observer
        self._worker = worker_id
        self._draw = draw
        self._max = max_in_flight
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run_once(self) -> int:
        """Start this round's deliveries (without waiting for them); how many were started."""
        self._in_flight = {k: t for k, t in self._in_flight.items() if not t.done()}
        room = self._max - len(self._in_flight)
        if room <= 0:
            return 0
        now = self._clock.now().timestamp()
        started = 0
        for sub_id, event_id in await self._store.due_heads(now, room, set(self._in_flight)):
            claim = await self._store.claim(sub_id, event_id, self._worker, now, now + LEASE_SECONDS)
            if claim is None:
                continue  # another worker has it
            self._in_flight[sub_id] = asyncio.create_task(self._deliver(claim), name=f"deliver-{sub_id}")
            started += 1
        return started

    async def drain(self) -> None:
        """Wait for the deliveries in flight (tests, shutdown)."""
        while self._in_flight:
            tasks = list(self._in_flight.values())
            self._in_flight = {}
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in self._in_flight.values():
            task.cancel()
        await self.drain()

    async def _deliver(self, claim: Claim) -> None:
        try:
            await self._attempt(claim)
        except Exception:  # the lease runs out and another round tries again
            log.exception("delivery failed unexpectedly", subscription=claim.subscription_id)

    async def _attempt(self, claim: Claim) -> None:
        now = self._clock.now()
        target = await self._store.target(claim, now.timestamp())
        if target is None:  # deleted meanwhile
            return
        label = secret_label(claim.tenant_id, claim.subscription_id)
        secrets_ = [self._box.open(label, sealed).decode() for sealed in target.sealed]
        body = event_json(target.event)
        signed = headers(secrets_, str(claim.event_id), int(now.timestamp()), body)
        sent = await self._poster.post(target.url, body, signed)
        done = self._clock.now()
        if sent.status is not None and 200 <= sent.status < 300:
            if await self._finish(claim, DeliveryStatus.DELIVERED, None, sent.status, None, done):
                self._observer.delivered((done - target.event.occurred_at).total_seconds())
            return
        if sent.status == 410:
            await self._store.disable(
                claim.tenant_id, claim.subscription_id, "the endpoint answered 410 Gone"
            )
            # pending again at once: sent in order if the tenant resumes the subscription
            await self._finish(claim, DeliveryStatus.PENDING, done.timestamp(), 410, "410 Gone", done)
            self._observer.disabled()
            return
        retry = next_retry(claim.attempts, claim.first_attempt_at, done.timestamp(), self._draw())
        if retry is None:
            if await self._finish(claim, DeliveryStatus.DEAD, None, sent.status, sent.error, done):
                self._observer.dead_lettered()
            return
        if await self._finish(claim, DeliveryStatus.PENDING, retry, sent.status, sent.error, done):
            self._observer.retried()

    async def _finish(
        self,
        claim: Claim,
        status: DeliveryStatus,
        next_at: float | None,
        last_status: int | None,
        error: str | None,
        now: datetime,
    ) -> bool:
        return await self._store.finish(
            claim, self._worker, status, next_at=next_at, last_status=last_status, error=error, now=now
        )
