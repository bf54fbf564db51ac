"""``/api/v1/crosschain``: the state of cross-chain messages between Neo N3 and Neo X, as relayed, each with
why it is where it is (``rules.why``, from stored facts only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.request_view.routes import WORKER_FRESHNESS
from neo_service_layer.services.crosschain.adapters.view import Viewed
from neo_service_layer.services.crosschain.parts import CrosschainParts
from neo_service_layer.services.crosschain.rules import MessageStatus, parse_message_id
from neo_service_layer.services.crosschain.rules.why import (
    Around,
    Position,
    decode_cursor,
    encode_cursor,
    why,
)
from neo_service_layer.services.crosschain.scopes import CROSSCHAIN_READ

router = APIRouter(prefix="/crosschain", tags=["crosschain"])

Caller = Annotated[Principal, Depends(require_scope(CROSSCHAIN_READ))]
MESSAGE_ID = r"^[0-9]{1,20}-[0-9]{1,19}$"
CHAIN_ID = r"^[0-9]{1,20}$"
ACCOUNT = r"^(0x)?[0-9a-fA-F]{40}$"


class WhyOut(BaseModel):
    #: ``leased``, ``no_worker``, ``direction_paused``, ``route_unknown``, ``enclave_caps``,
    #: ``receipt_refused``, ``carried_elsewhere``, ``relay_waiting``, ``redelivery``, ``lease_expired``,
    #: ``waiting_claim``, ``tx_missing``, ``tx_included``, ``tx_abandoned``, ``tx_send_error``,
    #: ``tx_unsent``, ``tx_not_included``, ``receipt_missing``, ``receipt_sending``, ``receipt_due``,
    #: ``receiver_failed``, ``refused``
    code: str
    text: str
    #: it will not move without someone acting (a worker to start, an operator, anyone calling retry)
    stuck: bool


class MessageOut(BaseModel):
    """One message: both sides, our transactions, attempts, why it failed, the relayer's note and why it is
    where it is."""

    messageId: str  # noqa: N815
    srcChain: str  # noqa: N815 - decimal: an N3 chain id exceeds JavaScript's safe integers
    destChain: str  # noqa: N815
    nonce: int
    #: 20-byte accounts in hex as the gateways hold them (an N3 script hash in NeoVM order)
    sender: str
    receiver: str
    payload: str
    gasLimit: int  # noqa: N815
    fee: str
    srcBlock: int  # noqa: N815
    srcTx: str  # noqa: N815
    #: ``seen``, ``delivering``, ``executed``, ``failed`` (the receiver reverted: retryable), ``refused``
    status: str
    attempts: int
    deliverTx: str | None  # noqa: N815 - our delivery in flight or last sent
    destBlock: int | None  # noqa: N815
    destTx: str | None  # noqa: N815
    result: str | None
    reason: str | None = Field(
        description="the outcome's reason: the receiver's revert reason of a failed message, or why it was "
        "refused; never the relayer's note"
    )
    relayNote: str | None = Field(  # noqa: N815
        description="why the relayer last gave the message back (a paused direction, someone else "
        "carrying it, a receipt the enclave refused); null once it moved on (its delivery or receipt "
        "written, an attempt read, refused, its receipt stored)"
    )
    #: ``none``, ``due``, ``sending``, ``stored`` (the sender can read the result on its own chain)
    receiptStatus: str  # noqa: N815
    receiptAttempt: int  # noqa: N815
    receiptTx: str | None  # noqa: N815
    receiptBlock: int | None  # noqa: N815
    #: when the relayer first read it on the source chain
    seenAt: datetime  # noqa: N815
    #: why it is where it is; ``null`` once it ran and its receipt is stored
    why: WhyOut | None


class MessagePage(BaseModel):
    items: list[MessageOut]
    #: the ``after`` of the next page; ``None`` on the last
    next: int | None


class RecentPage(BaseModel):
    items: list[MessageOut]
    #: pass as ``cursor`` for the next page; ``null`` on the last page
    nextCursor: str | None  # noqa: N815


def _out(viewed: Viewed, around: Around) -> MessageOut:
    stored, delivery = viewed
    m = stored.message
    reason = why(stored, delivery, around)
    return MessageOut(
        messageId=m.id,
        srcChain=str(m.src_chain),
        destChain=str(m.dest_chain),
        nonce=m.nonce,
        sender=m.sender.hex(),
        receiver=m.receiver.hex(),
        payload=m.payload.hex(),
        gasLimit=m.gas_limit,
        fee=str(m.fee),
        srcBlock=m.src_block,
        srcTx=m.src_tx,
        status=m.status.value,
        attempts=m.attempts,
        deliverTx=m.deliver_tx,
        destBlock=m.dest_block,
        destTx=m.dest_tx,
        result=m.result.hex() if m.result is not None else None,
        reason=m.reason,
        relayNote=m.relay_note,
        receiptStatus=m.receipt_status.value,
        receiptAttempt=m.receipt_attempt,
        receiptTx=m.receipt_tx,
        receiptBlock=m.receipt_block,
        seenAt=stored.created_at,
        why=None if reason is None else WhyOut(code=reason.code, text=reason.text, stuck=reason.stuck),
    )


def _parts(request: Request) -> CrosschainParts:
    container: Container = request.app.state.container
    return container.parts_of("crosschain", CrosschainParts)


async def _around(request: Request, parts: CrosschainParts) -> Around:
    container: Container = request.app.state.container
    now = container.clock.now()
    return Around(now=now, live_workers=await parts.view.live_workers(now, WORKER_FRESHNESS))


@router.get(
    "/recent",
    summary="Recent cross-chain messages of every sender, newest first, with why each is where it is",
)
async def recent(
    request: Request,
    _caller: Caller,
    status: MessageStatus | None = None,
    source: Annotated[
        str | None, Query(pattern=CHAIN_ID, description="only messages from this chain (cross-chain id)")
    ] = None,
    destination: Annotated[
        str | None, Query(pattern=CHAIN_ID, description="only messages to this chain (cross-chain id)")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=400, description="nextCursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RecentPage:
    after = decode_cursor(cursor) if cursor is not None else None
    parts = _parts(request)
    found, more = await parts.view.recent(
        status=status,
        source=int(source) if source is not None else None,
        destination=int(destination) if destination is not None else None,
        after=after,
        limit=limit,
    )
    around = await _around(request, parts)
    last = found[-1][0] if found else None
    next_cursor = (
        encode_cursor(Position(last.created_at, last.message.src_chain, last.message.nonce))
        if more and last is not None
        else None
    )
    return RecentPage(items=[_out(v, around) for v in found], nextCursor=next_cursor)


@router.get("/messages/{message_id}", summary="One cross-chain message: state on both chains, attempts, why")
async def message(
    message_id: Annotated[str, PathParam(pattern=MESSAGE_ID)], request: Request, _caller: Caller
) -> MessageOut:
    key = parse_message_id(message_id)
    parts = _parts(request)
    found = await parts.view.one(*key) if key is not None else None
    if found is None:
        raise NotFound(f"no cross-chain message {message_id} was seen")
    return _out(found, await _around(request, parts))


@router.get("/messages", summary="A sender's cross-chain messages from one chain, by nonce")
async def messages(
    request: Request,
    _caller: Caller,
    chain: Annotated[str, Query(pattern=CHAIN_ID, description="the source chain's cross-chain id")],
    sender: Annotated[str, Query(pattern=ACCOUNT, description="20-byte account, hex")],
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    account = bytes.fromhex(sender.removeprefix("0x"))
    parts = _parts(request)
    found = await parts.view.by_sender(int(chain), account, after, limit)
    around = await _around(request, parts)
    return MessagePage(
        items=[_out(v, around) for v in found],
        next=found[-1][0].message.nonce if len(found) == limit else None,
    )
