"""``/api/v1/neo``: which Neo network this installation serves, and with which contracts and keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from neo_service_layer.bootstrap import Container
from neo_service_layer.kernel.chain.ports.chain import ChainNotConfigured
from neo_service_layer.kernel.chain.setup import ChainParts
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.identity import Principal, Scopes

router = APIRouter(prefix="/neo", tags=["neo"])

Caller = Annotated[Principal, Depends(require_scope(Scopes.RANDOMNESS_REQUEST))]


class NetworkOut(BaseModel):
    network: str
    magic: int
    height: int
    contracts: dict[str, str]
    service_public_keys: dict[str, str]
    sender: str | None
    rpc_url: str | None = None


def chain_parts(request: Request) -> ChainParts:
    container: Container = request.app.state.container
    if container.chain_parts is None:
        raise ChainNotConfigured("no Neo network is configured (run `nsl chain up` or set NSL_NEO_NETWORK)")
    return container.chain_parts


@router.get("/network", summary="Network magic, height, contract hashes and the service's public keys")
async def network(request: Request, _caller: Caller) -> NetworkOut:
    parts = chain_parts(request)
    height = await parts.chain.height()
    keys = parts.keys.public() if parts.keys is not None else dict(parts.network.service_keys)
    contracts = {"randomness": parts.network.randomness_contract} if parts.network.randomness_contract else {}
    development = not parts.settings.is_production
    return NetworkOut(
        network=parts.network.name,
        magic=parts.chain.magic,
        height=height,
        contracts=contracts,
        service_public_keys=keys,
        sender=parts.chain.sender if parts.keys is not None else None,
        rpc_url=parts.chain.pool.current_url if development else None,
    )
