"""``/api/v1/feeds``: the configured price feeds, their latest and recent on-chain rounds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.kernel.chain.ports.chain import Chain
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.feeds.parts import FeedParts
from neo_service_layer.services.feeds.rules.aggregation import from_fixed_point
from neo_service_layer.services.feeds.rules.updates import FeedDefinition, check_pair
from neo_service_layer.services.feeds.use_cases import latest_round, recent_rounds
from neo_service_layer.services.oracle.api import ORACLE_REQUEST

router = APIRouter(prefix="/feeds", tags=["feeds"])

Caller = Annotated[Principal, Depends(require_scope(ORACLE_REQUEST))]
#: one side of a pair: 1-12 letters or digits (upper-cased before the pair is looked up)
Symbol = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9]{1,12}$")]


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


def _parts(request: Request) -> FeedParts:
    container: Container = request.app.state.container
    return container.parts_of("feeds", FeedParts)


async def _feed_out(chain: Chain, contract: str, feed: FeedDefinition) -> FeedOut:
    latest = await latest_round(chain, contract, feed.pair)
    out = None
    if latest is not None:
        value = from_fixed_point(latest.answer, feed.decimals)
        out = LatestRoundOut(
            roundId=latest.round_id,
            answer=str(latest.answer),
            value=str(value),
            startedAt=latest.started_at_ms,
            updatedAt=latest.updated_at_ms,
        )
    return FeedOut(pair=feed.pair, contract=contract, definition=feed.to_dict(), latest=out)


@router.get("", summary="Configured feeds with their latest on-chain round")
async def list_feeds(request: Request, _caller: Caller) -> list[FeedOut]:
    parts = _parts(request)
    chain, contract = parts.on_chain()
    return [await _feed_out(chain.chain, contract, f) for f in parts.feeds]


@router.get("/{base}/{quote}", summary="One feed (e.g. /feeds/NEO/USD)")
async def get_feed(base: Symbol, quote: Symbol, request: Request, _caller: Caller) -> FeedOut:
    parts = _parts(request)
    pair = check_pair(f"{base.upper()}/{quote.upper()}")
    chain, contract = parts.on_chain()
    for feed in parts.feeds:
        if feed.pair == pair:
            return await _feed_out(chain.chain, contract, feed)
    raise NotFound(f"no feed {pair} is configured")


class RoundsOut(BaseModel):
    pair: str
    decimals: int
    #: newest first
    rounds: list[LatestRoundOut]


@router.get("/{base}/{quote}/rounds", summary="A feed's recent rounds on chain, newest first (for charts)")
async def get_rounds(
    base: Symbol,
    quote: Symbol,
    request: Request,
    _caller: Caller,
    count: Annotated[int, Query(ge=1, le=100, description="how many rounds back from the latest")] = 20,
) -> RoundsOut:
    parts = _parts(request)
    pair = check_pair(f"{base.upper()}/{quote.upper()}")
    feed = next((f for f in parts.feeds if f.pair == pair), None)
    if feed is None:
        raise NotFound(f"no feed {pair} is configured")
    chain, contract = parts.on_chain()
    found = await recent_rounds(chain.chain, contract, pair, count)
    return RoundsOut(
        pair=pair,
        decimals=feed.decimals,
        rounds=[
            LatestRoundOut(
                roundId=r.round_id,
                answer=str(r.answer),
                value=str(from_fixed_point(r.answer, feed.decimals)),
                startedAt=r.started_at_ms,
                updatedAt=r.updated_at_ms,
            )
            for r in found
        ],
    )
