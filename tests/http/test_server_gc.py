"""The API server moves its start-up heap out of the garbage collector's reach (no 300 ms pauses)."""

from __future__ import annotations

import gc
from collections.abc import Callable

from fastapi import FastAPI

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.http.server import build_server
from tests.http.serverproc import free_port


async def test_the_heap_built_at_start_up_is_frozen(make_settings: Callable[..., Settings]) -> None:
    server = build_server(make_settings(http_host="127.0.0.1", http_port=free_port()), FastAPI())
    assert gc.get_freeze_count() == 0
    server.lifespan = server.config.lifespan_class(server.config)  # what uvicorn's serve() sets first
    try:
        await server.startup()
        assert gc.get_freeze_count() > 0
        await server.shutdown()
    finally:
        gc.unfreeze()
