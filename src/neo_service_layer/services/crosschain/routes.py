"""``/api/v1/crosschain``: the state of cross-chain messages between Neo N3 and Neo X, as relayed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.crosschain.parts import CrosschainParts
from neo_service_layer.services.crosschain.rules import Message, parse_message_id
from neo_service_layer.services.crosschain.scopes import CROSSCHAIN_READ

router = APIRouter(prefix="/crosschain", tags=["crosschain"])

Caller = Annotated[Principal, Depends(require_scope(CROSSCHAIN_READ))]
MESSAGE_ID = r"^[0-9]{1,20}-[0-9]{1,19}$"
CHAIN_ID = r"^[0-9]{1,20}$"
ACCOUNT = r"^(0x)?[0-9a-fA-F]{40}$"


class MessageOut(BaseModel):
    """One message: both sides, our transactions, attempts and why it failed."""

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
    reason: str | None
    #: ``none``, ``due``, ``sending``, ``stored`` (the sender can read the result on its own chain)
    receiptStatus: str  # noqa: N815
    receiptAttempt: int  # noqa: N815
    receiptTx: str | None  # noqa: N815
    receiptBlock: int | None  # noqa: N815


class MessagePage(BaseModel):
    items: list[MessageOut]
    #: the ``after`` of the next page; ``None`` on the last
    next: int | None


def _out(m: Message) -> MessageOut:
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
        receiptStatus=m.receipt_status.value,
        receiptAttempt=m.receipt_attempt,
        receiptTx=m.receipt_tx,
        receiptBlock=m.receipt_block,
    )


def _parts(request: Request) -> CrosschainParts:
    container: Container = request.app.state.container
    return container.parts_of("crosschain", CrosschainParts)


@router.get("/messages/{message_id}", summary="One cross-chain message: state on both chains, attempts, why")
async def message(
    message_id: Annotated[str, PathParam(pattern=MESSAGE_ID)], request: Request, _caller: Caller
) -> MessageOut:
    key = parse_message_id(message_id)
    found = await _parts(request).store.get(*key) if key is not None else None
    if found is None:
        raise NotFound(f"no cross-chain message {message_id} was seen")
    return _out(found)


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
    found = await _parts(request).store.by_sender(int(chain), account, after, limit)
    return MessagePage(items=[_out(m) for m in found], next=found[-1].nonce if len(found) == limit else None)
