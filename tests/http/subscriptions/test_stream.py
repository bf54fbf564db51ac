"""The stream channel over real HTTP: an actual uvicorn server on loopback, through every middleware.
A client reads events as they are published, disconnects, reconnects with ``Last-Event-ID`` and gets
every later event of its types, without gaps and without those of other types."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.services.subscriptions import stream_routes
from tests.http.keys.conftest import MovableClock
from tests.http.serverproc import free_port
from tests.http.subscriptions.conftest import Api, Tenant


@asynccontextmanager
async def _served(settings: Settings, clock: MovableClock) -> AsyncIterator[tuple[Api, str]]:
    port = free_port()
    app = create_app(settings, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield Api(app, client, clock), base
    finally:
        server.should_exit = True
        server.force_exit = True
        await serving


async def _read(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sub_id: str,
    count: int,
    last: str | None,
    opened: asyncio.Event | None = None,
) -> list[dict[str, str]]:
    """``count`` events of the stream, then disconnect; ``opened`` is set once the stream has begun (its
    starting point is fixed)."""
    headers = {"authorization": f"Bearer {await tenant.key()}"}
    if last is not None:
        headers["last-event-id"] = last
    events: list[dict[str, str]] = []
    async with (
        asyncio.timeout(30),
        client.stream("GET", f"/api/v1/subscriptions/{sub_id}/stream", headers=headers) as answer,
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        current: dict[str, str] = {}
        async for line in answer.aiter_lines():
            if line.startswith(":"):
                if opened is not None:
                    opened.set()
                continue
            if line == "":
                if current:
                    events.append(current)
                    current = {}
                    if len(events) == count:
                        break
                continue
            name, _, value = line.partition(": ")
            current[name] = value
    return events


async def test_stream_resumes_after_a_disconnect_without_gaps(
    backend_settings: Settings, clock: MovableClock
) -> None:
    async with _served(backend_settings, clock) as (api, _):
        acme = await api.tenant("acme")
        sub_id, secret = await acme.subscribe(["automation.*"])
        assert secret is None
        opened = asyncio.Event()
        first = asyncio.create_task(_read(api.client, acme, sub_id, 2, None, opened))
        await opened.wait()  # without Last-Event-ID the stream starts after the newest event
        ids = await acme.publish("automation.run.failed", "audit.security", "automation.run.delivered")
        got = await first
        assert [e["id"] for e in got] == [ids[0], ids[2]]  # not audit.security: another type
        assert [e["event"] for e in got] == ["automation.run.failed", "automation.run.delivered"]
        assert '"type":"automation.run.failed"' in got[0]["data"]
        # published while no client listens
        later = await acme.publish("automation.run.failed", "automation.run.failed", "audit.security")
        more = await acme.publish("automation.run.delivered")
        resumed = await _read(api.client, acme, sub_id, 3, got[-1]["id"])
        assert [e["id"] for e in resumed] == [later[0], later[1], more[0]]
        # from an earlier point: everything of its types after it, again
        again = await _read(api.client, acme, sub_id, 4, ids[0])
        assert [e["id"] for e in again] == [ids[2], later[0], later[1], more[0]]
        other = await api.tenant("other")
        assert (await other.call("GET", f"/{sub_id}/stream")).status_code == 404


@pytest.mark.postgres
@pytest.mark.parametrize("backend_settings", ["postgres"], indirect=True)
async def test_on_postgresql_a_stream_reads_an_event_at_its_commit(
    backend_settings: Settings, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the stream's poll at an hour, only the API's listener (``NOTIFY`` at commit, the tenant's
    bell) can bring the event; another tenant's event in between is not on this stream."""
    monkeypatch.setattr(stream_routes, "POLL_SECONDS", 3600.0)
    async with _served(backend_settings, clock) as (api, _):
        acme, other = await api.tenant("acme"), await api.tenant("other")
        sub_id, _ = await acme.subscribe(["automation.*"])
        opened = asyncio.Event()
        reading = asyncio.create_task(_read(api.client, acme, sub_id, 2, None, opened))
        await opened.wait()
        await other.publish("automation.run.failed")
        [first] = await acme.publish("automation.run.failed")
        await asyncio.sleep(0.1)  # the stream is waiting again (its minimum gap between reads is 50 ms)
        [second] = await acme.publish("automation.run.delivered")
        got = await reading  # _read gives up after 30 s: far below the hour of the poll
        assert [e["id"] for e in got] == [first, second]
