"""``/api/v1/neo``: which Neo network this installation serves, and with which contracts and keys."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from neo_service_layer.kernel.chain.ports.chain import ChainNotConfigured
from neo_service_layer.kernel.chain.ports.role_keys import PublishesKeys
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.access import Principal

router = APIRouter(prefix="/neo", tags=["neo"])

Caller = Annotated[Principal, Depends(require_scope("randomness:request"))]


class NetworkOut(BaseModel):
    network: str
    magic: int
    height: int
    contracts: dict[str, str]
    service_public_keys: dict[str, str]
    sender: str | None
    rpc_url: str | None = None


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.get("/network", summary="Network magic, height, contract hashes and the service's public keys")
async def network(request: Request, _caller: Caller) -> NetworkOut:
    container = _container(request)
    chain = container.chain
    if chain is None:
        raise ChainNotConfigured("no Neo network is configured (run `nsl chain up` or set NSL_NEO_NETWORK)")
    height = await chain.recent_height()
    keys = dict(chain.network.service_keys)
    for parts in container.parts.values():
        if isinstance(parts, PublishesKeys):
            with contextlib.suppress(ChainNotConfigured):  # a key not created yet is not shown
                keys |= await parts.published_keys()
    if chain.sender is not None:
        keys["sender"] = chain.sender.public_key.hex()
    development = not chain.settings.is_production
    return NetworkOut(
        network=chain.network.name,
        magic=chain.chain.magic,
        height=height,
        contracts=dict(chain.network.contracts),
        service_public_keys=keys,
        sender=chain.chain.sender if chain.sender is not None else None,
        rpc_url=chain.chain.pool.current_url if development else None,
    )
