"""``/api/v1/subscriptions``: a tenant's event subscriptions. A source names event types (exact, or a
prefix ``automation.*``, or ``*``); a channel is a Standard Webhooks endpoint (its ``whsec_`` secret
is in the answer to the creation and to a rotation only), an e-mail address (signed the same way, in
mail headers; where the operator configured SMTP) or a stream read from ``.../stream``
(``stream_routes``). Deliveries per subscription with attempts, last status and next retry; a dead
letter can be replayed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.events.rules import EVENT_TYPES
from neo_service_layer.kernel.http.encoding import Strict
from neo_service_layer.kernel.http.idempotency import IDEMPOTENT, IDEMPOTENT_ONCE
from neo_service_layer.kernel.http.security import Meta, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.subscriptions.parts import NAME, SubscriptionParts
from neo_service_layer.services.subscriptions.ports import Delivery, DeliveryStatus, Subscription
from neo_service_layer.services.subscriptions.rules.mail import ADDRESS_PATTERN, MAX_ADDRESS_LENGTH
from neo_service_layer.services.subscriptions.rules.matching import MAX_TYPES, PATTERN_REGEX
from neo_service_layer.services.subscriptions.scopes import SUBSCRIPTIONS_READ, SUBSCRIPTIONS_WRITE
from neo_service_layer.services.subscriptions.transfer_models import TransfersIn, TransfersOut, transfers_out
from neo_service_layer.services.subscriptions.use_cases.manage import Subscriptions, SubscriptionStatus
from neo_service_layer.services.subscriptions.use_cases.request_source import REQUEST_SERVICES, watched
from neo_service_layer.services.subscriptions.use_cases.transfer_source import is_transfer_filter

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])

Reader = Annotated[Principal, Depends(require_scope(SUBSCRIPTIONS_READ))]
Writer = Annotated[Principal, Depends(require_scope(SUBSCRIPTIONS_WRITE))]
SUB_ID_PATTERN = "^sub_[0-9a-f]{24}$"
SubId = Annotated[str, PathParam(pattern=SUB_ID_PATTERN)]
MAX_EVENT_ID = 2**53 - 1
EventId = Annotated[int, PathParam(ge=1, le=MAX_EVENT_ID)]

TypePattern = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=PATTERN_REGEX,
        description=f"an event type ({', '.join(EVENT_TYPES)}), a prefix such as ``automation.*``, or ``*``",
    ),
]


class ChainFilterIn(Strict):
    index: Annotated[int, Field(ge=0, le=15)]
    #: the argument equals this value in Neo's byte encoding (one of ``value`` or ``hash160``)
    value: Annotated[str, Field(max_length=256)] | int | bool | None = None
    #: the argument is this script hash (20 bytes, little-endian, as ``Transfer`` carries it)
    hash160: Annotated[str | None, Field(pattern=r"^0x[0-9a-fA-F]{40}$")] = None


class ChainIn(Strict):
    contract: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="the contract's script hash")]
    event: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")]
    filters: Annotated[list[ChainFilterIn], Field(max_length=4)] = []


class RequestsIn(Strict):
    consumer: Annotated[
        str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="the consumer contract's script hash")
    ]
    #: one service's requests only (every service's when absent)
    service: Literal[REQUEST_SERVICES] | None = None  # type: ignore[valid-type]


class SourceIn(Strict):
    types: Annotated[list[TypePattern], Field(min_length=1, max_length=MAX_TYPES)]
    #: N3 contract notifications (``types`` must be exactly ``["chain.notification"]``)
    chain: ChainIn | None = None
    #: on-chain requests of a consumer contract (``types``: ``request.*`` or request event types)
    requests: RequestsIn | None = None
    #: an asset's transfers to or from an address (``types`` must be ``["transfer.nep17"]`` on N3,
    #: ``["transfer.erc20"]`` on Neo X)
    transfers: TransfersIn | None = None


class WebhookIn(Strict):
    url: Annotated[
        str,
        Field(
            min_length=10,
            max_length=2048,
            pattern=r"^https?://[^\s]+$",
            description="https (http only where the operator allows it); public addresses only",
        ),
    ]


class WebhookChannelIn(Strict):
    webhook: WebhookIn


class EmailIn(Strict):
    to: Annotated[
        str,
        Field(
            min_length=3,
            max_length=MAX_ADDRESS_LENGTH,
            pattern=ADDRESS_PATTERN,
            description=(
                "the recipient: a dot-atom local part of at most 64 characters @ a domain name; "
                "refused with 422 no-smtp where the operator configured no SMTP server"
            ),
        ),
    ]


class EmailChannelIn(Strict):
    email: EmailIn


class StreamIn(Strict):
    pass


class StreamChannelIn(Strict):
    stream: StreamIn


class SubscriptionIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern="^[A-Za-z0-9 _.:@/-]+$")]
    source: SourceIn
    channel: WebhookChannelIn | EmailChannelIn | StreamChannelIn


class ChainFilterOut(BaseModel):
    index: int
    value: str | int | bool | None = None
    hash160: str | None = None


class ChainOut(BaseModel):
    contract: str
    event: str
    filters: list[ChainFilterOut]
    #: it gets the notifications of the blocks after this one
    startBlock: int  # noqa: N815


class RequestsOut(BaseModel):
    consumer: str
    service: str | None = None


class SourceOut(BaseModel):
    types: list[str]
    chain: ChainOut | None = None
    requests: RequestsOut | None = None
    transfers: TransfersOut | None = None


class ChannelOut(BaseModel):
    kind: Literal["webhook", "email", "stream"]
    url: str | None = None
    #: the e-mail channel's address
    email: str | None = None


class SubscriptionOut(BaseModel):
    subscriptionId: str  # noqa: N815
    name: str
    source: SourceOut
    channel: ChannelOut
    #: ``disabled``: the endpoint answered 410 Gone (``reason``); resume to send again
    state: Literal["active", "paused", "disabled"]
    reason: str | None
    createdAt: datetime  # noqa: N815
    #: after a rotation, the previous secret also signs until then
    previousSecretValidUntil: datetime | None = None  # noqa: N815
    #: deliveries per status (with one subscription)
    counts: dict[str, int] | None = None


class SubscriptionCreated(BaseModel):
    subscription: SubscriptionOut
    #: the webhook's (or e-mail channel's) Standard Webhooks secret, shown this once (``None`` for a stream)
    webhookSecret: str | None  # noqa: N815


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionOut]
    #: pass as ``after`` for the next page; ``None`` on the last page
    next: str | None


class SecretRotated(BaseModel):
    #: the new secret, shown this once
    webhookSecret: str  # noqa: N815
    #: the previous secret also signs until then
    previousSecretValidUntil: datetime  # noqa: N815


class DeliveryOut(BaseModel):
    eventId: int  # noqa: N815
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    lastStatus: int | None  # noqa: N815
    lastError: str | None  # noqa: N815
    nextAttemptAt: datetime | None  # noqa: N815
    finishedAt: datetime | None  # noqa: N815


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


def subscriptions_of(request: Request) -> Subscriptions:
    container: Container = request.app.state.container
    return container.parts_of(NAME, SubscriptionParts).subscriptions


def _time(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def _chain(sub: Subscription) -> ChainOut | None:
    if sub.chain is None or is_transfer_filter(sub.chain):
        return None
    raw = json.loads(sub.chain)
    filters = [ChainFilterOut(**f) for f in raw["filters"]]
    return ChainOut(
        contract=raw["contract"], event=raw["event"], filters=filters, startBlock=sub.start_block or 0
    )


def _requests(sub: Subscription) -> RequestsOut | None:
    if sub.requests is None:
        return None
    consumer, service = watched(sub.requests)
    return RequestsOut(consumer=consumer, service=service)


def _out(sub: Subscription, counts: dict[str, int] | None = None) -> SubscriptionOut:
    return SubscriptionOut(
        subscriptionId=sub.subscription_id,
        name=sub.name,
        source=SourceOut(
            types=list(sub.types), chain=_chain(sub), requests=_requests(sub), transfers=transfers_out(sub)
        ),
        channel=ChannelOut(kind=sub.kind.value, url=sub.url, email=sub.email),
        state=sub.state.value,
        reason=sub.reason,
        createdAt=sub.created_at,
        previousSecretValidUntil=_time(sub.previous_until),
        counts=counts,
    )


def _status(s: SubscriptionStatus) -> SubscriptionOut:
    return _out(s.subscription, s.counts)


def _delivery(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        eventId=d.event_id,
        status=d.status.value,
        attempts=d.attempts,
        lastStatus=d.last_status,
        lastError=d.last_error,
        nextAttemptAt=_time(d.next_at),
        finishedAt=d.finished_at,
    )


@router.post(
    "",
    status_code=201,
    summary="Subscribe to event types with a webhook or e-mail (its secret is shown once) or a stream",
    dependencies=[IDEMPOTENT_ONCE],
)
async def create_subscription(
    body: SubscriptionIn, principal: Writer, request: Request, meta: Meta
) -> SubscriptionCreated:
    url = body.channel.webhook.url if isinstance(body.channel, WebhookChannelIn) else None
    email = body.channel.email.to if isinstance(body.channel, EmailChannelIn) else None
    chain = body.source.chain.model_dump(exclude_none=True) if body.source.chain is not None else None
    requests = body.source.requests.model_dump() if body.source.requests is not None else None
    transfers = body.source.transfers.model_dump() if body.source.transfers is not None else None
    sub, secret = await subscriptions_of(request).create(
        principal,
        meta,
        name=body.name,
        types=body.source.types,
        url=url,
        chain=chain,
        email=email,
        requests=requests,
        transfers=transfers,
    )
    return SubscriptionCreated(subscription=_out(sub, {}), webhookSecret=secret)


@router.get("", summary="The tenant's subscriptions, by id")
async def list_subscriptions(
    request: Request,
    principal: Reader,
    after: Annotated[str | None, Query(pattern=SUB_ID_PATTERN, description="list ids above this one")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SubscriptionList:
    found = await subscriptions_of(request).page(principal.tenant_id, limit=limit, after=after)
    page = [_out(s) for s in found]
    return SubscriptionList(subscriptions=page, next=page[-1].subscriptionId if len(page) == limit else None)


@router.get("/{subscription_id}", summary="One subscription with its deliveries counted per status")
async def get_subscription(subscription_id: SubId, request: Request, principal: Reader) -> SubscriptionOut:
    return _status(await subscriptions_of(request).one(principal.tenant_id, subscription_id))


@router.post("/{subscription_id}/pause", summary="Pause: events are kept for it, nothing is sent")
async def pause_subscription(
    subscription_id: SubId, request: Request, principal: Writer, meta: Meta
) -> SubscriptionOut:
    return _status(await subscriptions_of(request).pause(principal, meta, subscription_id))


@router.post(
    "/{subscription_id}/resume", summary="Resume (also after 410 Gone): kept deliveries go out in order"
)
async def resume_subscription(
    subscription_id: SubId, request: Request, principal: Writer, meta: Meta
) -> SubscriptionOut:
    return _status(await subscriptions_of(request).resume(principal, meta, subscription_id))


@router.delete("/{subscription_id}", status_code=204, summary="Delete a subscription and its deliveries")
async def delete_subscription(
    subscription_id: SubId, request: Request, principal: Writer, meta: Meta
) -> Response:
    await subscriptions_of(request).delete(principal, meta, subscription_id)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/secret/rotate",
    summary="A new webhook secret (shown once); the previous one keeps signing alongside for 24 h",
    dependencies=[IDEMPOTENT_ONCE],
)
async def rotate_secret(
    subscription_id: SubId, request: Request, principal: Writer, meta: Meta
) -> SecretRotated:
    secret, until = await subscriptions_of(request).rotate(principal, meta, subscription_id)
    return SecretRotated(webhookSecret=secret, previousSecretValidUntil=datetime.fromtimestamp(until, UTC))


@router.get(
    "/{subscription_id}/deliveries",
    summary="Deliveries, newest event first: attempts, last status, next retry",
)
async def list_deliveries(
    subscription_id: SubId,
    request: Request,
    principal: Reader,
    status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryList:
    wanted = DeliveryStatus(status) if status is not None else None
    found = await subscriptions_of(request).deliveries(principal.tenant_id, subscription_id, wanted, limit)
    return DeliveryList(deliveries=[_delivery(d) for d in found])


@router.post(
    "/{subscription_id}/deliveries/{event_id}/replay",
    status_code=202,
    summary="Queue a dead-lettered delivery again (it goes out in event order)",
    dependencies=[IDEMPOTENT],
)
async def replay_delivery(
    subscription_id: SubId, event_id: EventId, request: Request, principal: Writer, meta: Meta
) -> Response:
    await subscriptions_of(request).replay(principal, meta, subscription_id, event_id)
    return Response(status_code=202)
