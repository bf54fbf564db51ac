"""``/api/v1/requests``: on-chain requests of every service, with their state and why they are there.

A tenant's caller sees the requests of the consumer contracts its subscriptions watch, for the services
whose scope it holds (``rules.SERVICE_SCOPES``); an operator (``platform:admin``) sees every request.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from neo_service_layer.enclave.wire.errors import InvalidInput, NotFound
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.security import Authenticated
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.kernel.identity.rules.errors import MissingScope
from neo_service_layer.kernel.request_view.adapters import SqlRequestView, Visibility
from neo_service_layer.kernel.request_view.rules import (
    SERVICE_SCOPES,
    OutboxFacts,
    Position,
    RequestFacts,
    Surroundings,
    decode_cursor,
    encode_cursor,
    reason_of,
)

router = APIRouter(prefix="/requests", tags=["requests"])

#: a worker whose heartbeat is older than this is not counted as alive (as ``/health/ready`` does)
WORKER_FRESHNESS = timedelta(seconds=30)

ServiceName = Literal[
    "randomness", "randomness-evm", "oracle", "oracle-evm", "native-oracle", "compute", "automation"
]
State = Literal["seen", "fulfilling", "fulfilled", "delivered", "callback_failed", "failed"]
HASH_PATTERN = r"^0x[0-9a-fA-F]{40}$"


class ReasonOut(BaseModel):
    #: ``failed``, ``callback_failed``, ``callback_not_delivered``, ``tx_missing``, ``awaiting_watcher``,
    #: ``tx_included``, ``tx_expired``, ``tx_send_error``, ``tx_unsent``, ``tx_not_included``, ``leased``,
    #: ``no_worker``, ``chain_fault_retry``, ``lease_expired``, ``waiting_retry``, ``waiting_claim``
    code: str
    text: str
    #: it will not move without someone acting (a worker to start, a failure to look at)
    stuck: bool


class OutboxOut(BaseModel):
    txHash: str  # noqa: N815
    #: ``pending``, ``included``, ``expired`` or ``faulted``
    status: str
    sendCount: int  # noqa: N815
    validUntilBlock: int  # noqa: N815
    lastSentAt: datetime | None = None  # noqa: N815
    includedBlock: int | None = None  # noqa: N815
    lastError: str | None = None  # noqa: N815


class RequestOut(BaseModel):
    service: str
    contract: str
    requestId: str  # noqa: N815
    consumer: str
    state: State
    attempts: int
    requestBlock: int  # noqa: N815
    requestTx: str  # noqa: N815
    seenAt: datetime  # noqa: N815
    updatedAt: datetime  # noqa: N815
    leaseOwner: str | None = None  # noqa: N815
    leaseUntil: datetime | None = None  # noqa: N815
    txHash: str | None = None  # noqa: N815
    fulfilledBlock: int | None = None  # noqa: N815
    fulfilledTx: str | None = None  # noqa: N815
    deliveredBlock: int | None = None  # noqa: N815
    failureReason: str | None = None  # noqa: N815
    callbackFailure: str | None = None  # noqa: N815
    chainFaults: int  # noqa: N815
    #: ``null`` once the request is done (delivered, or answered without a callback problem)
    reason: ReasonOut | None
    #: the fulfilment transaction while the request is FULFILLING
    outbox: OutboxOut | None = None


class RequestPage(BaseModel):
    requests: list[RequestOut]
    #: pass as ``cursor`` for the next page; ``null`` on the last page
    nextCursor: str | None  # noqa: N815
    #: whose requests these are: ``all`` (operator) or ``watched`` (the tenant's watched consumers)
    scope: Literal["all", "watched"]


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _visibility(principal: Principal) -> Visibility:
    if principal.has_scope(Scopes.PLATFORM_ADMIN):
        return Visibility(frozenset(SERVICE_SCOPES))
    services = frozenset(s for s, scope in SERVICE_SCOPES.items() if principal.has_scope(scope))
    if not services:
        needed = sorted(set(SERVICE_SCOPES.values()))
        raise MissingScope(f"listing on-chain requests needs one of the scopes {needed}")
    return Visibility(services, tenant_id=principal.tenant_id)


async def _surroundings(
    container: Container, view: SqlRequestView, items: list[tuple[RequestFacts, OutboxFacts | None]]
) -> tuple[Surroundings, dict[str, int]]:
    now = container.clock.now()
    height = None
    if container.chain is not None and any(f.status == "fulfilling" for f, _ in items):
        with contextlib.suppress(ChainUnavailable, TimeoutError):
            height = await container.chain.recent_height()
    live = await view.live_workers(now, WORKER_FRESHNESS)
    cursors = await view.watcher_blocks([f"{f.service}:{f.contract}" for f, _ in items])
    return Surroundings(now=now, height=height, live_workers=live), cursors


def _out(
    facts: RequestFacts, outbox: OutboxFacts | None, around: Surroundings, cursors: dict[str, int]
) -> RequestOut:
    evm = facts.service.endswith("-evm")
    here = Surroundings(
        now=around.now,
        height=None if evm else around.height,
        watcher_block=cursors.get(f"{facts.service}:{facts.contract}"),
        live_workers=around.live_workers,
    )
    reason = reason_of(facts, outbox if facts.status == "fulfilling" else None, here)
    shown = outbox if facts.status == "fulfilling" else None
    return RequestOut(
        service=facts.service,
        contract=facts.contract,
        requestId=str(facts.request_id),
        consumer=facts.consumer,
        state=facts.status,
        attempts=facts.attempts,
        requestBlock=facts.request_block,
        requestTx=facts.request_tx,
        seenAt=facts.seen_at,
        updatedAt=facts.updated_at,
        leaseOwner=facts.lease_owner,
        leaseUntil=facts.lease_until,
        txHash=facts.tx_hash,
        fulfilledBlock=facts.fulfilled_block,
        fulfilledTx=facts.fulfilled_tx,
        deliveredBlock=facts.delivered_block,
        failureReason=facts.failure_reason,
        callbackFailure=facts.callback_failure,
        chainFaults=facts.chain_faults,
        reason=None if reason is None else ReasonOut(code=reason.code, text=reason.text, stuck=reason.stuck),
        outbox=None
        if shown is None
        else OutboxOut(
            txHash=shown.tx_hash,
            status=shown.status,
            sendCount=shown.send_count,
            validUntilBlock=shown.valid_until_block,
            lastSentAt=shown.last_sent_at,
            includedBlock=shown.included_block,
            lastError=shown.last_error,
        ),
    )


@router.get("", summary="On-chain requests of every service, newest first, with why each is where it is")
async def list_requests(
    request: Request,
    principal: Authenticated,
    service: ServiceName | None = None,
    state: State | None = None,
    consumer: Annotated[str | None, Query(pattern=HASH_PATTERN, description="0x + 40 hex")] = None,
    cursor: Annotated[
        str | None, Query(max_length=400, description="nextCursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RequestPage:
    who = _visibility(principal)
    container = _container(request)
    view = SqlRequestView(container.engine)
    after: Position | None = decode_cursor(cursor) if cursor is not None else None
    items, more = await view.page(
        who,
        service=service,
        state=state,
        consumer=consumer.lower() if consumer is not None else None,
        after=after,
        limit=limit,
    )
    around, cursors = await _surroundings(container, view, items)
    last = items[-1][0] if items else None
    next_cursor = (
        encode_cursor(Position(last.seen_at, last.service, last.contract, last.request_id))
        if more and last is not None
        else None
    )
    return RequestPage(
        requests=[_out(f, o, around, cursors) for f, o in items],
        nextCursor=next_cursor,
        scope="all" if who.tenant_id is None else "watched",
    )


@router.get(
    "/{service}/{request_id}",
    summary="One on-chain request, its fulfilment transaction and why it is where it is",
)
async def get_request(
    request: Request,
    principal: Authenticated,
    service: ServiceName,
    request_id: Annotated[int, Path(ge=0, le=2**63 - 1)],
    contract: Annotated[
        str | None, Query(pattern=HASH_PATTERN, description="needed when the service has several contracts")
    ] = None,
) -> RequestOut:
    who = _visibility(principal)
    if service not in who.services:
        raise MissingScope(f"this service's requests need the scope {SERVICE_SCOPES[service]!r}")
    container = _container(request)
    view = SqlRequestView(container.engine)
    found = await view.one(who, service, request_id, contract.lower() if contract is not None else None)
    if not found:
        raise NotFound(f"no {service} request {request_id} that you can see is stored")
    if len(found) > 1:
        contracts = ", ".join(f.contract for f, _ in found)
        raise InvalidInput(
            f"request {request_id} exists on several {service} contracts ({contracts}): pass contract"
        )
    around, cursors = await _surroundings(container, view, found)
    facts, outbox = found[0]
    return _out(facts, outbox, around, cursors)
