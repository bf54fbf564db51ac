"""``/api/v1/feeds``: the configured price feeds and their latest on-chain rounds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.kernel.chain.ports.chain import Chain, ChainNotConfigured, ContractCall
from neo_service_layer.kernel.chain.routes import chain_parts
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.identity import Principal, Scopes
from neo_service_layer.services.feeds.rules.aggregation import from_fixed_point
from neo_service_layer.services.feeds.rules.updates import FeedDefinition, check_pair

router = APIRouter(prefix="/feeds", tags=["feeds"])

Caller = Annotated[Principal, Depends(require_scope(Scopes.ORACLE_REQUEST))]


class LatestRoundOut(BaseModel):
    roundId: int  # noqa: N815
    answer: str  # the fixed-point integer, as a decimal string
    value: str
    startedAt: int  # noqa: N815
    updatedAt: int  # noqa: N815


class FeedOut(BaseModel):
    pair: str
    contract: str
    definition: dict[str, Any]
    latest: LatestRoundOut | None


async def _latest(chain: Chain, contract: str, feed: FeedDefinition) -> LatestRoundOut | None:
    (data,) = await chain.read(ContractCall(contract, "latestRoundData", (feed.pair,)))
    round_id, answer, started, updated = (int(v) for v in data)
    if round_id == 0:
        return None
    value = from_fixed_point(answer, feed.decimals)
    return LatestRoundOut(
        roundId=round_id, answer=str(answer), value=str(value), startedAt=started, updatedAt=updated
    )


@router.get("", summary="Configured feeds with their latest on-chain round")
async def list_feeds(request: Request, _caller: Caller) -> list[FeedOut]:
    parts = chain_parts(request)
    if not parts.feed_contract:
        raise ChainNotConfigured("no feed contract is configured")
    contract = parts.feed_contract
    return [
        FeedOut(
            pair=f.pair,
            contract=contract,
            definition=f.to_dict(),
            latest=await _latest(parts.chain, contract, f),
        )
        for f in parts.feeds
    ]


@router.get("/{base}/{quote}", summary="One feed (e.g. /feeds/NEO/USD)")
async def get_feed(base: str, quote: str, request: Request, _caller: Caller) -> FeedOut:
    parts = chain_parts(request)
    pair = check_pair(f"{base.upper()}/{quote.upper()}")
    if not parts.feed_contract:
        raise ChainNotConfigured("no feed contract is configured")
    for feed in parts.feeds:
        if feed.pair == pair:
            latest = await _latest(parts.chain, parts.feed_contract, feed)
            return FeedOut(pair=pair, contract=parts.feed_contract, definition=feed.to_dict(), latest=latest)
    raise NotFound(f"no feed {pair} is configured")
