"""``GET /api/v1/subscriptions/{id}/stream``: the subscription's events as Server-Sent Events.

Each event is ``id:`` (the tenant's event id), ``event:`` (its type) and ``data:`` (the same JSON object
a webhook gets). A client that reconnects with ``Last-Event-ID`` gets every later event of its types
from the outbox first, then new ones; without it the stream starts after the tenant's newest event. New
events are read when the tenant's events commit (on PostgreSQL the process's ``EventBell`` rings; at
most every ``MIN_GAP_SECONDS`` per stream) and every ``POLL_SECONDS`` in any case. Event ids are given
in commit order without gaps (``kernel.events.adapters``), so resuming loses nothing. A comment line
every ``KEEPALIVE_SECONDS`` keeps proxies from closing an idle stream. The stream ends when the client
goes or the subscription is deleted. Works with both channels (a webhook subscription's events can be
watched too)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.events.bell import EventBell
from neo_service_layer.services.subscriptions.ports import Subscription
from neo_service_layer.services.subscriptions.routes import MAX_EVENT_ID, Reader, SubId, subscriptions_of
from neo_service_layer.services.subscriptions.use_cases.deliver import event_json
from neo_service_layer.services.subscriptions.use_cases.manage import Subscriptions

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])

POLL_SECONDS = 0.5
#: a stream reads the outbox at most this often, however often its tenant's events ring the bell
MIN_GAP_SECONDS = 0.05
KEEPALIVE_SECONDS = 15.0
BATCH = 200


async def _events(
    request: Request, subs: Subscriptions, sub: Subscription, after: int, bell: EventBell
) -> AsyncIterator[bytes]:
    yield b": stream open\n\n"
    position, quiet_since, checked = after, time.monotonic(), time.monotonic()
    while not await request.is_disconnected():
        ring = bell.next_ring(sub.tenant_id)  # before the read: a commit after it ends the wait below
        read_at = time.monotonic()
        found, moved = await subs.events_after(sub, position, BATCH)
        for event in found:
            body = event_json(event, sub.subscription_id).decode()
            yield f"id: {event.event_id}\nevent: {event.type}\ndata: {body}\n\n".encode()
        if moved != position:
            position, quiet_since = moved, time.monotonic()
            continue
        if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()
        if time.monotonic() - checked >= POLL_SECONDS:  # deleted? (a poll's worth, not at every ring)
            try:
                await subs.get(sub.tenant_id, sub.subscription_id)
            except NotFound:
                return
            checked = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ring.wait(), POLL_SECONDS)
        await asyncio.sleep(max(0.0, MIN_GAP_SECONDS - (time.monotonic() - read_at)))


@router.get(
    "/{subscription_id}/stream",
    response_class=StreamingResponse,
    summary="The subscription's events as Server-Sent Events, resumable with Last-Event-ID",
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream_events(
    subscription_id: SubId,
    request: Request,
    principal: Reader,
    last_event_id: Annotated[
        int | None, Header(ge=0, le=MAX_EVENT_ID, description="resume after this event id")
    ] = None,
) -> StreamingResponse:
    subs = subscriptions_of(request)
    sub = await subs.get(principal.tenant_id, subscription_id)
    after = await subs.start_after(principal.tenant_id, last_event_id)
    container: Container = request.app.state.container
    return StreamingResponse(
        _events(request, subs, sub, after, container.new_events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
