"""Webhook and e-mail deliveries: each round claims the due head of each subscription (its oldest
pending event) not already in flight here, up to ``MAX_IN_FLIGHT`` across subscriptions, and sends
each in its own task that outlives the round: a slow endpoint holds only its own subscription (for at
most the poster's timeout) while the others go on. 2xx: delivered; 410 Gone: the subscription is
disabled (the delivery stays pending and goes out if the tenant resumes it); anything else: retried per
``rules.retry``, then dead-lettered. An e-mail goes through the mailer (``use_cases.mail``): accepted
(2xx): delivered; a 5xx for the recipient or the message: dead-lettered at once; anything else retried
the same way.

A subscription's task goes on after a delivered event: it claims the subscription's next due head at
once (the same conditional claim) and sends it, up to ``BURST_EVENTS`` events or ``BURST_SECONDS``,
then ends (the next round starts it again); any other outcome (a retry, a dead letter, 410, a lost
lease, an error) ends it. ``deliver_head`` is the same for one head named by a bus message.

Per endpoint (``rules.endpoints``: a URL's origin, or the SMTP server) a worker has at most
``Policy.limit`` subscriptions' tasks in flight, and a circuit stops new attempts at an endpoint
that failed several times in a row (one probe after a cool-down). A due head whose endpoint is at its
limit or open is not claimed (no lease, no attempt): it stays pending, in order, for a later round
(a bus message's head is dispatched again shortly); the round gives its slots to other endpoints."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.subscriptions.ports import (
    Claim,
    DeliveryObserver,
    DeliveryStatus,
    DeliveryStore,
    Kind,
    Mailer,
    Poster,
    SecretBox,
    Sent,
    StoredEvent,
    Target,
    WebhookSigner,
)
from neo_service_layer.services.subscriptions.rules.endpoints import (
    EndpointGate,
    Policy,
    endpoint_failed,
    endpoint_of,
)
from neo_service_layer.services.subscriptions.rules.retry import next_retry
from neo_service_layer.services.subscriptions.rules.signing import headers
from neo_service_layer.services.subscriptions.use_cases.mail import compose
from neo_service_layer.services.subscriptions.use_cases.manage import secret_label

log = get_logger("nsl.subscriptions")

#: subscriptions sent to at once by one worker
MAX_IN_FLIGHT = 32
#: a claim's lease (longer than one attempt's timeout); a worker that dies leaves it to another after it
LEASE_SECONDS = 60.0
#: a subscription's task sends at most this many events in a row, for at most this long, then yields
BURST_EVENTS = 200
BURST_SECONDS = 5.0
#: a bus message whose endpoint is at its limit is dispatched again after this (seconds)
REDISPATCH_SECONDS = 1.0
#: due heads read per round at most (pages of the round's room), past those of blocked endpoints
SCAN_PAGES = 4
#: subscriptions whose endpoint is remembered (a subscription's URL never changes)
ENDPOINT_CACHE = 10_000

#: when a failed attempt is tried again (``rules.retry.next_retry``'s signature)
RetryPolicy = Callable[[int, float, float, float], float | None]


def event_json(event: StoredEvent, subscription_id: str) -> bytes:
    """The Standard Webhooks payload: ``type``, ``timestamp`` (the event's) and ``data``, plus its id and
    the subscription it is sent for (what a ``v1a`` receiver checks: the platform key signs every
    subscription's webhooks); the same object is an SSE event's ``data``."""
    occurred = event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "id": event.event_id,
        "type": event.type,
        "timestamp": occurred,
        "subscription": subscription_id,
        "data": json.loads(event.data),
    }
    return json.dumps(body, separators=(",", ":")).encode()


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
        mailer: Mailer | None = None,
        signer: WebhookSigner | None = None,
        lease_seconds: float = LEASE_SECONDS,
        burst_events: int = BURST_EVENTS,
        burst_seconds: float = BURST_SECONDS,
        retry: RetryPolicy = next_retry,
        wait_retry_within: float = 0.0,
        endpoints: Policy | None = None,
    ) -> None:
        """``retry`` and ``wait_retry_within`` (a task waits for a retry due that soon instead of
        ending: 0, never) exist for tests and benchmarks that shrink the schedule; ``endpoints`` is
        the per-endpoint limit and circuit."""
        self._gate = EndpointGate(endpoints or Policy())
        #: subscription -> endpoint (URLs never change; a deleted subscription's entry is harmless)
        self._endpoints: dict[str, str] = {}
        #: subscriptions left pending last rounds because their endpoint was blocked
        self._deferred: dict[str, str] = {}
        self._mailer = mailer
        self._signer = signer
        self._lease = lease_seconds
        self._burst = max(1, burst_events)
        self._burst_seconds = burst_seconds
        self._retry = retry
        self._wait_within = wait_retry_within
        #: the last finished attempt of a claim: (status, next attempt) while its task reads it
        self._outcomes: dict[tuple[str, int], tuple[DeliveryStatus, float | None]] = {}
        self._store = store
        self._poster = poster
        self._box = box
        self._clock = clock
        self._observer = observer
        self._worker = worker_id
        self._draw = draw
        self._max = max_in_flight
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def worker_id(self) -> str:
        return self._worker

    async def run_once(self) -> int:
        """Start this round's deliveries (without waiting for them); how many were started. Heads
        of blocked endpoints are passed over (remembered, so the next pages read others)."""
        self._in_flight = {k: t for k, t in self._in_flight.items() if not t.done()}
        room = self._max - len(self._in_flight)
        if room <= 0 or self._stopping:
            return 0
        now = self._clock.now().timestamp()
        self._deferred = {s: e for s, e in self._deferred.items() if self._gate.blocked(e, now)}
        started = 0
        for _ in range(SCAN_PAGES):
            heads = await self._store.due_heads(now, room - started, {*self._in_flight, *self._deferred})
            if not heads:
                break
            await self._learn([sub for sub, _ in heads])
            passed_over = 0
            for sub_id, event_id in heads:
                endpoint = self._endpoints.get(sub_id)
                if endpoint is not None and (why := self._gate.acquire(endpoint, now)) is not None:
                    self._deferred[sub_id] = endpoint
                    self._observer.deferred(why)
                    passed_over += 1
                    continue
                claim = await self._store.claim(sub_id, event_id, self._worker, now, now + self._lease)
                if claim is None:  # another worker has it
                    if endpoint is not None:
                        self._gate.release(endpoint)
                    continue
                task = asyncio.create_task(self._deliver(claim, endpoint), name=f"deliver-{sub_id}")
                self._in_flight[sub_id] = task
                started += 1
            if started >= room or passed_over == 0:  # full, or no later page has more
                break
        return started

    async def _learn(self, subscription_ids: list[str]) -> None:
        """Remember the endpoints of ``subscription_ids`` not known yet (one read)."""
        unknown = [s for s in subscription_ids if s not in self._endpoints]
        if not unknown:
            return
        if len(self._endpoints) + len(unknown) > ENDPOINT_CACHE:
            self._endpoints.clear()
        for sub_id, (kind, url) in (await self._store.channels(unknown)).items():
            self._endpoints[sub_id] = endpoint_of(kind, url)

    async def drain(self) -> None:
        """Wait for the deliveries in flight (tests, shutdown)."""
        while self._in_flight:
            tasks = list(self._in_flight.values())
            self._in_flight = {}
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        """No new delivery starts; each one in flight ends after its current attempt (a POST cut off
        midway could have arrived and would be sent again)."""
        self._stopping = True

    async def close(self) -> None:
        """The worker stops (``stop``): wait for the attempts in flight (each lasts at most the
        poster's timeout), then close the poster's kept connections."""
        self.stop()
        await self.drain()
        await self._poster.aclose()

    async def deliver_head(self, subscription_id: str, event_id: int) -> bool:
        """Claim ``event_id`` if it is still the subscription's due head and no live lease holds it,
        then deliver it and go on as a round's task does; ``False``: not claimed (nothing done).
        A head whose endpoint is blocked here is not claimed either: its message is dispatched
        again shortly (busy) or when the endpoint's circuit lets a probe through (open)."""
        if self._stopping:  # the message is acknowledged; the head is dispatched again after its lease
            return False
        now = self._clock.now().timestamp()
        await self._learn([subscription_id])
        endpoint = self._endpoints.get(subscription_id)
        if endpoint is not None and (why := self._gate.acquire(endpoint, now)) is not None:
            self._observer.deferred(why)
            later = REDISPATCH_SECONDS if why == "busy" else self._gate.policy.cool_down
            await self._store.redispatch(subscription_id, event_id, now + later)
            return False
        try:
            claim = await self._store.claim_head(
                subscription_id, self._worker, now, now + self._lease, event_id=event_id
            )
        except BaseException:
            if endpoint is not None:
                self._gate.release(endpoint)
            raise
        if claim is None:
            if endpoint is not None:
                self._gate.release(endpoint)
            return False
        await self._deliver(claim, endpoint)
        return True

    async def _deliver(self, claim: Claim | None, endpoint: str | None = None) -> None:
        """Send ``claim``, then the subscription's next heads while each is delivered (a retry due
        within ``wait_retry_within`` is waited for), within the burst; then free ``endpoint``'s slot
        (taken by the caller)."""
        started, sent = time.monotonic(), 0
        try:
            while claim is not None:
                key = (claim.subscription_id, claim.event_id)
                try:
                    await self._attempt(claim)
                    sent += 1
                    status, next_at = self._outcomes.pop(key, (None, None))
                    if (
                        sent >= self._burst
                        or time.monotonic() - started >= self._burst_seconds
                        or self._stopping
                    ):
                        return
                    claim = await self._next(claim, status, next_at, endpoint)
                except Exception:  # the lease runs out and another round tries again
                    self._outcomes.pop(key, None)
                    log.exception("delivery failed unexpectedly", subscription=key[0])
                    return
        finally:
            if endpoint is not None:
                self._gate.release(endpoint)

    async def _next(
        self, claim: Claim, status: DeliveryStatus | None, next_at: float | None, endpoint: str | None
    ) -> Claim | None:
        now = self._clock.now().timestamp()
        if status is DeliveryStatus.DELIVERED:
            return await self._store.claim_head(
                claim.subscription_id, self._worker, now, now + self._lease, after=claim.event_id
            )
        if endpoint is not None and self._gate.blocked(endpoint, now) == "open":
            return None  # a retry waits for the circuit (the task's own slot makes it "busy" otherwise)
        if status is DeliveryStatus.PENDING and next_at is not None and next_at - now <= self._wait_within:
            await asyncio.sleep(max(0.0, next_at - now))
            now = self._clock.now().timestamp()
            return await self._store.claim_head(
                claim.subscription_id, self._worker, now, now + self._lease, event_id=claim.event_id
            )
        return None

    async def _attempt(self, claim: Claim) -> None:
        now = self._clock.now()
        target = await self._store.target(claim, now.timestamp())
        if target is None:  # deleted meanwhile
            return
        label = secret_label(claim.tenant_id, claim.subscription_id)
        secrets_ = [self._box.open(label, sealed).decode() for sealed in target.sealed]
        body = event_json(target.event, claim.subscription_id)
        permanent = False  # an answer that ends the delivery at once (an SMTP 5xx for the recipient)
        reached = False  # the endpoint was tried (not held back by the enclave)
        if target.kind is Kind.EMAIL:
            sent, permanent, reached = await self._mail(claim, target, body, secrets_, now)
        else:
            v1 = headers(secrets_, str(claim.event_id), int(now.timestamp()), body)
            signed = await self._with_v1a(claim, v1, body)
            if signed is None:
                sent = Sent(None, "the enclave did not sign (v1a): tried again later")
            else:
                sent = await self._poster.post(target.url or "", body, signed)
                reached = True
        done = self._clock.now()
        if reached:  # the endpoint's own health (not the enclave's): its circuit
            failed = endpoint_failed(target.kind.value, sent.status)
            self._gate.record(endpoint_of(target.kind.value, target.url), failed=failed, now=done.timestamp())
        if sent.status is not None and 200 <= sent.status < 300:
            if await self._finish(claim, DeliveryStatus.DELIVERED, None, sent.status, None, done):
                self._observer.delivered((done - target.event.occurred_at).total_seconds())
            return
        if sent.status == 410 and target.kind is Kind.WEBHOOK:
            await self._store.disable(
                claim.tenant_id, claim.subscription_id, "the endpoint answered 410 Gone"
            )
            # pending again at once: sent in order if the tenant resumes the subscription
            await self._finish(claim, DeliveryStatus.PENDING, done.timestamp(), 410, "410 Gone", done)
            self._observer.disabled()
            return
        retry = (
            None
            if permanent
            else self._retry(claim.attempts, claim.first_attempt_at, done.timestamp(), self._draw())
        )
        if retry is None:
            if await self._finish(claim, DeliveryStatus.DEAD, None, sent.status, sent.error, done):
                self._observer.dead_lettered()
            return
        if await self._finish(claim, DeliveryStatus.PENDING, retry, sent.status, sent.error, done):
            self._observer.retried()

    async def _with_v1a(self, claim: Claim, signed: dict[str, str], body: bytes) -> dict[str, str] | None:
        """``signed`` with the enclave's ``v1a`` signature added (as is without a signer); ``None`` when
        the enclave cannot sign now: nothing is sent without it, the attempt is retried."""
        if self._signer is None:
            return signed
        try:
            v1a = await self._signer.sign(
                claim.subscription_id, signed["webhook-id"], int(signed["webhook-timestamp"]), body
            )
        except EnclaveUnavailable as exc:
            log.warning("webhook not signed: enclave unavailable", reason=type(exc).__name__)
            return None
        return {**signed, "webhook-signature": f"{signed['webhook-signature']} {v1a}"}

    async def _mail(
        self, claim: Claim, target: Target, body: bytes, secrets_: list[str], now: datetime
    ) -> tuple[Sent, bool, bool]:
        """An e-mail attempt as a webhook's result (the SMTP reply code as the status), whether the
        answer was permanent and whether the server was tried."""
        if self._mailer is None or target.email is None:
            return Sent(None, "no SMTP server configured (NSL_SMTP_HOST)"), False, False
        mail = compose(
            claim.subscription_id, target.event, body, target.email, self._mailer.sender, secrets_, now
        )
        standard = {k: v for k, v in mail.headers.items() if k.startswith("webhook-")}
        signed = await self._with_v1a(claim, standard, mail.body)
        if signed is None:
            return Sent(None, "the enclave did not sign (v1a): tried again later"), False, False
        mail = replace(mail, headers={**mail.headers, **signed})
        mailed = await self._mailer.send(mail)
        return Sent(mailed.code, mailed.error), mailed.permanent, True

    async def _finish(
        self,
        claim: Claim,
        status: DeliveryStatus,
        next_at: float | None,
        last_status: int | None,
        error: str | None,
        now: datetime,
    ) -> bool:
        finished = await self._store.finish(
            claim, self._worker, status, next_at=next_at, last_status=last_status, error=error, now=now
        )
        if finished:
            self._outcomes[(claim.subscription_id, claim.event_id)] = (status, next_at)
        return finished
