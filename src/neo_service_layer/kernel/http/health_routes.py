"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.health.rules import ComponentStatus, Readiness

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/health/ready", summary="Every dependency answers", responses={503: {"description": "not ready"}}
)
async def ready(request: Request) -> JSONResponse:
    container: Container = request.app.state.container
    readiness = await check_readiness(container)
    body: dict[str, Any] = {
        "status": "ready" if readiness.ready else "unready",
        "components": {
            c.name: {"status": "up" if c.ok else "down", "critical": c.critical, **_detail(c), **c.info}
            for c in readiness.components
        },
    }
    return JSONResponse(body, status_code=200 if readiness.ready else 503)


def _detail(component: ComponentStatus) -> dict[str, str]:
    return {"detail": component.detail} if component.detail else {}


async def check_readiness(container: Container) -> Readiness:
    """Run every readiness check concurrently and record the outcome as metrics."""

    async def timed(name: str) -> ComponentStatus:
        start = time.perf_counter()
        status = await container.readiness_checks[name]()
        container.component_metrics.check_seconds.labels(name).observe(time.perf_counter() - start)
        container.component_metrics.up.labels(name).set(1 if status.ok else 0)
        return status

    results = await asyncio.gather(*(timed(name) for name in container.readiness_checks))
    return Readiness(tuple(results))
