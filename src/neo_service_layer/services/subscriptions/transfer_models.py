"""The API's transfer source (``source.transfers``): what a tenant sends and is shown, on Neo N3
(NEP-17, ``transfer.nep17``) or Neo X (ERC-20, ``transfer.erc20``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from neo_service_layer.kernel.http.encoding import Strict
from neo_service_layer.services.subscriptions.ports import Subscription
from neo_service_layer.services.subscriptions.use_cases.transfer_source import (
    is_transfer_filter,
    stored_watch,
)

HEX160 = r"^0x[0-9a-fA-F]{40}$"


class TransfersIn(Strict):
    #: Neo N3 (NEP-17, ``types`` ``["transfer.nep17"]``) or Neo X (ERC-20, ``["transfer.erc20"]``)
    chain: Literal["n3", "neox"] = "n3"
    asset: Annotated[
        str,
        Field(
            pattern=HEX160,
            description="the token contract: a NEP-17 script hash (n3) or an ERC-20 address (neox)",
        ),
    ]
    address: Annotated[
        str, Field(pattern=HEX160, description="the watched script hash (n3) or address (neox)")
    ]
    #: transfers to the address (``in``), from it (``out``) or both
    direction: Literal["in", "out", "both"] = "both"


class TransfersOut(BaseModel):
    chain: Literal["n3", "neox"]
    #: lowercase ``0x`` hex, as the events show it
    asset: str
    address: str
    direction: Literal["in", "out", "both"]
    #: it gets the transfers of the blocks after this one (of its chain)
    startBlock: int  # noqa: N815


def transfers_out(sub: Subscription) -> TransfersOut | None:
    if sub.chain is None or not is_transfer_filter(sub.chain):
        return None
    watch = stored_watch(sub.chain)
    return TransfersOut(
        chain=watch.chain,  # n3 or neox, as validated on creation
        asset=watch.asset,
        address=watch.address,
        direction=watch.direction,
        startBlock=sub.start_block or 0,
    )
