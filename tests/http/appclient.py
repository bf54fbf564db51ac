"""An in-process client for the ASGI app with its lifespan running (no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
