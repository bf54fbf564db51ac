"""``GET /api/v1/system/health``: what an operator looks at first (``platform:admin``).

The readiness checks of ``/health/ready`` (database, enclave, chain, workers) with their details, plus
what readiness only counts: each worker's heartbeat, each watcher's cursor and how far it is behind its
chain, and the enclave's mode spelled out (hardware, or SIMULATION).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import select

from neo_service_layer.kernel.chain.adapters.tables import chain_cursors
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.db.tables import worker_heartbeats
from neo_service_layer.kernel.db.timestamps import utc_required
from neo_service_layer.kernel.http.health_routes import check_readiness
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.kernel.request_view.rules import SERVICE_SCOPES

router = APIRouter(prefix="/system", tags=["system"])

Operator = Annotated[Principal, Depends(require_scope(Scopes.PLATFORM_ADMIN))]

#: a worker whose last heartbeat is older than this is reported as not alive (as readiness counts)
WORKER_FRESHNESS = timedelta(seconds=30)


class ComponentOut(BaseModel):
    name: str
    up: bool
    critical: bool
    detail: str | None = None
    #: what the check reported besides (height, mode, sender GAS, active workers...)
    info: dict[str, Any]


class EnclaveOut(BaseModel):
    #: ``hardware``, ``SIMULATION`` (no TEE protects the keys), or ``unknown`` when unreachable
    mode: Literal["hardware", "SIMULATION", "unknown"]
    platform: str | None = None
    up: bool


class ChainOut(BaseModel):
    #: ``neo-n3`` or ``evm``
    kind: str
    name: str
    #: ``null`` when its RPC did not answer
    height: int | None = None


class WatcherOut(BaseModel):
    #: ``service:contract`` (or the service's own naming)
    name: str
    block: int
    updatedAt: datetime  # noqa: N815
    #: blocks between the chain's head and this cursor; ``null`` when the chain is not known for it
    lag: int | None = None


class WorkerOut(BaseModel):
    workerId: str  # noqa: N815
    hostname: str
    pid: int
    startedAt: datetime  # noqa: N815
    lastSeenAt: datetime  # noqa: N815
    #: a heartbeat within the last 30 seconds
    alive: bool


class OperatorHealth(BaseModel):
    ready: bool
    components: list[ComponentOut]
    enclave: EnclaveOut
    chains: list[ChainOut]
    watchers: list[WatcherOut]
    workers: list[WorkerOut]


async def _chains(container: Container) -> tuple[list[ChainOut], int | None, int | None]:
    chains: list[ChainOut] = []
    n3 = evm = None
    if container.chain is not None:
        with contextlib.suppress(ChainUnavailable, TimeoutError):
            n3 = await container.chain.recent_height()
        chains.append(ChainOut(kind="neo-n3", name=container.chain.network.name, height=n3))
    if container.evm is not None:
        with contextlib.suppress(ChainUnavailable, TimeoutError):
            evm = await container.evm.chain.block_number()
        chains.append(ChainOut(kind="evm", name=container.evm.network.name, height=evm))
    return chains, n3, evm


def _lag(name: str, n3: int | None, evm: int | None, block: int) -> int | None:
    service = name.split(":", 1)[0]
    if service not in SERVICE_SCOPES:
        return None
    head = evm if service.endswith("-evm") else n3
    return None if head is None else max(head - block, 0)


@router.get("/health", summary="Enclave mode, chains and watcher lag, worker heartbeats (operators)")
async def operator_health(request: Request, _operator: Operator) -> OperatorHealth:
    container: Container = request.app.state.container
    readiness = await check_readiness(container)
    now = container.clock.now()
    chains, n3, evm = await _chains(container)
    async with container.engine.connect() as conn:
        cursors = (await conn.execute(select(chain_cursors).order_by(chain_cursors.c.name))).all()
        beats = (
            await conn.execute(select(worker_heartbeats).order_by(worker_heartbeats.c.last_seen_at.desc()))
        ).all()
    components = [
        ComponentOut(name=c.name, up=c.ok, critical=c.critical, detail=c.detail or None, info=dict(c.info))
        for c in readiness.components
    ]
    enclave = next((c for c in readiness.components if c.name == "enclave"), None)
    mode = str(enclave.info.get("mode", "")) if enclave is not None else ""
    shown: Literal["hardware", "SIMULATION", "unknown"] = (
        "SIMULATION" if mode == "simulation" else "hardware" if mode == "hardware" else "unknown"
    )
    platform = enclave.info.get("platform") if enclave is not None else None
    return OperatorHealth(
        ready=readiness.ready,
        components=components,
        enclave=EnclaveOut(
            mode=shown,
            platform=str(platform) if platform is not None else None,
            up=enclave is not None and enclave.ok,
        ),
        chains=chains,
        watchers=[
            WatcherOut(
                name=c.name,
                block=int(c.block_index),
                updatedAt=utc_required(c.updated_at),
                lag=_lag(c.name, n3, evm, int(c.block_index)),
            )
            for c in cursors
        ],
        workers=[
            WorkerOut(
                workerId=b.worker_id,
                hostname=b.hostname,
                pid=int(b.pid),
                startedAt=utc_required(b.started_at),
                lastSeenAt=utc_required(b.last_seen_at),
                alive=now - utc_required(b.last_seen_at) <= WORKER_FRESHNESS,
            )
            for b in beats
        ],
    )
