"""Graceful shutdown over a real loopback socket: in-flight requests finish, then the pool closes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import uvicorn

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from tests.http.serverproc import free_port


async def test_in_flight_request_finishes_during_shutdown(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(http_port=free_port())
    app = create_app(settings, migrate=True)
    release = asyncio.Event()
    entered = asyncio.Event()

    @app.get("/api/v1/test/slow")
    async def slow() -> dict[str, str]:
        entered.set()
        await release.wait()
        return {"finished": "yes"}

    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=settings.http_port, log_config=None, timeout_graceful_shutdown=10
        )
    )
    serving = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{settings.http_port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.02)
        in_flight = asyncio.create_task(client.get("/api/v1/test/slow"))
        await entered.wait()
        server.should_exit = True  # what SIGTERM does
        await asyncio.sleep(0.2)
        assert not in_flight.done()
        release.set()
        response = await in_flight
    await serving
    assert response.status_code == 200
    assert response.json() == {"finished": "yes"}
    # the lifespan closed the engine's pool on the way out
    assert app.state.container.engine.pool.checkedout() == 0
