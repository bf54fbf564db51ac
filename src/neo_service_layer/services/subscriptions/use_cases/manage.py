"""A tenant's subscriptions over the API: create (a webhook's or an e-mail channel's ``whsec_`` secret is
returned once, then kept sealed; e-mail only where the operator configured SMTP), list, read with
delivery counts, pause, resume, delete, rotate the secret (the previous one keeps signing alongside
for ``ROTATION_OVERLAP_SECONDS``), list deliveries and replay a dead one. Every change is in the
tenant's audit log (the URL's host only: a path or query may carry tokens; the address's domain only)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from neo_service_layer.enclave.wire.errors import Conflict, InvalidInput, NotFound
from neo_service_layer.kernel.chain.ports.chain import BlockSource, Chain
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.events.rules import EVENT_TYPES
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.audit import AuditRecord, Outcome, RequestMeta
from neo_service_layer.services.subscriptions.ports import (
    Delivery,
    DeliveryStatus,
    Kind,
    Poster,
    SecretBox,
    State,
    StoredEvent,
    Subscription,
    SubscriptionStore,
)
from neo_service_layer.services.subscriptions.rules.mail import MAX_ADDRESS_LENGTH, is_address
from neo_service_layer.services.subscriptions.rules.matching import UnknownEventType, check_patterns
from neo_service_layer.services.subscriptions.rules.signing import new_secret
from neo_service_layer.services.subscriptions.use_cases.chain_source import (
    chain_filter,
    deliverable,
    filter_json,
)
from neo_service_layer.services.subscriptions.use_cases.request_source import (
    BadRequestFilter,
    request_filter,
)
from neo_service_layer.services.subscriptions.use_cases.transfer_source import N3, transfer_filter

#: how long a rotated-out secret still signs alongside the new one
ROTATION_OVERLAP_SECONDS = 24 * 3600
#: audit actions: ``subscriptions.create`` etc.
AUDIT_PREFIX = "subscriptions."


class SubscriptionNotFound(NotFound):
    code = "subscription-not-found"


class DeliveryNotDead(NotFound):
    code = "dead-delivery-not-found"


class NotAWebhook(Conflict):
    code = "not-a-webhook"


class BadEventType(InvalidInput):
    code = "unknown-event-type"


class NoNetwork(InvalidInput):
    code = "no-neo-network"


class NoNeoX(InvalidInput):
    code = "no-neox-network"


class NoSmtp(InvalidInput):
    code = "no-smtp"


class InvalidEmail(InvalidInput):
    code = "invalid-email"


def secret_label(tenant_id: str, subscription_id: str) -> str:
    """The associated data of a sealed secret: a blob moved to another subscription does not open."""
    return f"subscription-webhook:{tenant_id}:{subscription_id}"


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    subscription: Subscription
    #: deliveries per status (webhooks)
    counts: dict[str, int]


class Subscriptions:
    def __init__(
        self,
        store: SubscriptionStore,
        box: SecretBox,
        poster: Poster,
        clock: Clock,
        audit: AuditLog,
        chain: Chain | None = None,
        *,
        smtp: bool = False,
        neox: BlockSource | None = None,
    ) -> None:
        self._chain = chain
        #: Neo X blocks as its transfer scanner reads them (``None``: no EVM chain configured)
        self._neox = neox
        self._smtp = smtp
        self._store = store
        self._box = box
        self._poster = poster
        self._clock = clock
        self._audit = audit

    async def _record(self, who: Principal, meta: RequestMeta, op: str, sub_id: str, **details: str) -> None:
        await self._audit.record(
            AuditRecord(
                tenant_id=who.tenant_id,
                actor=who.actor,
                action=f"{AUDIT_PREFIX}{op}",
                outcome=Outcome.SUCCESS,
                target=f"subscription:{sub_id}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details=details,
            )
        )

    async def create(
        self,
        who: Principal,
        meta: RequestMeta,
        *,
        name: str,
        types: Sequence[str],
        url: str | None,
        chain: dict[str, Any] | None = None,
        email: str | None = None,
        requests: dict[str, Any] | None = None,
        transfers: dict[str, Any] | None = None,
    ) -> tuple[Subscription, str | None]:
        if url is not None and email is not None:
            raise InvalidInput("one channel: a webhook URL or an e-mail address, not both")
        if email is not None:
            self._check_email(email)
        try:
            check_patterns(types, EVENT_TYPES)
        except UnknownEventType as exc:
            raise BadEventType(str(exc)) from exc
        watched, start_block = None, None
        if sum(f is not None for f in (chain, requests, transfers)) > 1:
            raise BadRequestFilter("one source filter: chain, requests or transfers")
        if chain is not None or transfers is not None:
            on = N3
            if chain is not None:
                watched = filter_json(chain_filter(chain, types))
            else:
                watch = transfer_filter(transfers or {}, types)
                watched, on = watch.as_json(), watch.chain
            blocks = self._chain if on == N3 else self._neox
            if blocks is None:
                if on == N3:
                    raise NoNetwork("no Neo network configured: a chain filter needs one")
                raise NoNeoX("no Neo X chain configured: a Neo X transfer filter needs one")
            start_block = await blocks.height()  # it sees the blocks after that chain's head
        if url is not None:
            await self._poster.check(url)  # the SSRF guard's refusal is a 422 (InvalidSourceAddress)
        sub_id = f"sub_{secrets.token_hex(12)}"
        kind = Kind.WEBHOOK if url is not None else Kind.EMAIL if email is not None else Kind.STREAM
        secret = new_secret() if kind is not Kind.STREAM else None
        sealed = self._box.seal(secret_label(who.tenant_id, sub_id), secret.encode()) if secret else None
        draft = Subscription(
            subscription_id=sub_id,
            tenant_id=who.tenant_id,
            name=name,
            types=tuple(dict.fromkeys(types)),
            kind=kind,
            url=url,
            email=email,
            state=State.ACTIVE,
            reason=None,
            start_event=0,
            created_at=self._clock.now(),
        )
        if watched is not None:
            draft = replace(draft, chain=watched, start_block=start_block)
        if requests is not None:
            draft = replace(draft, requests=request_filter(requests, types))
        created = await self._store.add(draft, sealed)
        host = urlsplit(url).hostname or "" if url else email.rpartition("@")[2] if email else ""
        await self._record(
            who, meta, "create", sub_id, kind=kind.value, host=host, types=",".join(draft.types)
        )
        return created, secret

    def _check_email(self, email: str) -> None:
        if not is_address(email):
            raise InvalidEmail(
                f"channel.email.to is not an address this service sends to (at most {MAX_ADDRESS_LENGTH}"
                " characters, a local part of at most 64 and a domain name)"
            )
        if not self._smtp:
            raise NoSmtp("no SMTP server configured (NSL_SMTP_HOST): the e-mail channel is off")

    async def page(self, tenant_id: str, *, limit: int, after: str | None) -> list[Subscription]:
        return await self._store.page(tenant_id, limit=limit, after=after)

    async def get(self, tenant_id: str, sub_id: str) -> Subscription:
        found = await self._store.get(tenant_id, sub_id)
        if found is None:
            raise SubscriptionNotFound(f"no subscription {sub_id}")
        return found

    async def one(self, tenant_id: str, sub_id: str) -> SubscriptionStatus:
        found = await self.get(tenant_id, sub_id)
        return SubscriptionStatus(found, await self._store.counts(tenant_id, sub_id))

    async def _set(
        self, who: Principal, meta: RequestMeta, sub_id: str, state: State, op: str
    ) -> SubscriptionStatus:
        if not await self._store.set_state(who.tenant_id, sub_id, state, None):
            raise SubscriptionNotFound(f"no subscription {sub_id}")
        await self._record(who, meta, op, sub_id)
        return await self.one(who.tenant_id, sub_id)

    async def pause(self, who: Principal, meta: RequestMeta, sub_id: str) -> SubscriptionStatus:
        return await self._set(who, meta, sub_id, State.PAUSED, "pause")

    async def resume(self, who: Principal, meta: RequestMeta, sub_id: str) -> SubscriptionStatus:
        """Active again (also after a 410 disabled it): deliveries held meanwhile go out in order."""
        return await self._set(who, meta, sub_id, State.ACTIVE, "resume")

    async def delete(self, who: Principal, meta: RequestMeta, sub_id: str) -> None:
        if not await self._store.delete(who.tenant_id, sub_id):
            raise SubscriptionNotFound(f"no subscription {sub_id}")
        await self._record(who, meta, "delete", sub_id)

    async def rotate(self, who: Principal, meta: RequestMeta, sub_id: str) -> tuple[str, int]:
        """A new secret (returned once); the previous one signs alongside until the time returned."""
        found = await self.get(who.tenant_id, sub_id)
        if found.kind is Kind.STREAM:
            raise NotAWebhook(f"subscription {sub_id} has no webhook secret")
        secret = new_secret()
        until = int(self._clock.now().timestamp()) + ROTATION_OVERLAP_SECONDS
        sealed = self._box.seal(secret_label(who.tenant_id, sub_id), secret.encode())
        if not await self._store.rotate(who.tenant_id, sub_id, sealed, until):
            raise SubscriptionNotFound(f"no subscription {sub_id}")
        await self._record(who, meta, "secret_rotate", sub_id)
        return secret, until

    async def deliveries(
        self, tenant_id: str, sub_id: str, status: DeliveryStatus | None, limit: int
    ) -> list[Delivery]:
        await self.get(tenant_id, sub_id)
        return await self._store.deliveries(tenant_id, sub_id, status, limit)

    async def replay(self, who: Principal, meta: RequestMeta, sub_id: str, event_id: int) -> None:
        await self.get(who.tenant_id, sub_id)
        now = self._clock.now().timestamp()
        if not await self._store.replay(who.tenant_id, sub_id, event_id, now):
            raise DeliveryNotDead(f"no dead-lettered delivery of event {event_id} in {sub_id}")
        await self._record(who, meta, "replay", sub_id, event=str(event_id))

    async def start_after(self, tenant_id: str, last_event_id: int | None) -> int:
        """Where a stream starts: after ``Last-Event-ID``, or after the tenant's newest event."""
        return last_event_id if last_event_id is not None else await self._store.head(tenant_id)

    async def events_after(self, sub: Subscription, after: int, limit: int) -> tuple[list[StoredEvent], int]:
        """The subscription's events after ``after`` (at most ``limit`` read) and the new position."""
        read = await self._store.events_after(sub.tenant_id, after, limit)
        position = read[-1].event_id if read else after
        return [e for e in read if deliverable(sub.types, sub.source_filter, e.type, e.data)], position
