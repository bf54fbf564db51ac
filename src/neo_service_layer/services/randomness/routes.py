"""``/api/v1/randomness``: verifiable random words off chain, proof checks, and on-chain request state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from neo_service_layer.bootstrap import Container
from neo_service_layer.enclave.wire.errors import InvalidInput, NotFound
from neo_service_layer.kernel.chain.adapters.request_store import ChainStore
from neo_service_layer.kernel.chain.adapters.service_keys import ServiceKeys, load_service_keys
from neo_service_layer.kernel.chain.ports.chain import ChainNotConfigured, ContractCall
from neo_service_layer.kernel.chain.routes import chain_parts
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.identity import Principal, Scopes
from neo_service_layer.services.randomness import rules
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.adapters.proofs import verify_randomness

router = APIRouter(prefix="/randomness", tags=["randomness"])

Caller = Annotated[Principal, Depends(require_scope(Scopes.RANDOMNESS_REQUEST))]
HEX = r"^(0x)?([0-9a-fA-F]{2})*$"


class RandomnessRequest(BaseModel):
    numWords: int = Field(default=1, ge=rules.MIN_WORDS, le=rules.MAX_WORDS)  # noqa: N815
    seed: str | None = Field(default=None, pattern=HEX, max_length=2 + 2 * 256, description="hex")


class RandomnessAnswer(BaseModel):
    requestId: str  # noqa: N815 - decimal: ids exceed JavaScript's safe integers
    seed: str
    proof: str
    output: str
    words: list[str]
    signature: str
    publicKey: str  # noqa: N815
    blsPublicKey: str  # noqa: N815


class VerifyRequest(BaseModel):
    requestId: str = Field(pattern=r"^[0-9]{1,19}$")  # noqa: N815
    seed: str = Field(pattern=HEX)
    proof: str = Field(pattern=HEX)
    output: str = Field(pattern=HEX)
    words: list[str] | None = Field(default=None, max_length=rules.MAX_WORDS)
    signature: str | None = Field(default=None, pattern=HEX)


class VerifyAnswer(BaseModel):
    valid: bool
    proof: bool
    output: bool
    words: bool | None
    signature: bool | None
    blsPublicKey: str  # noqa: N815
    publicKey: str  # noqa: N815


class RequestState(BaseModel):
    requestId: str  # noqa: N815
    contract: str
    status: str
    consumer: str | None = None
    numWords: int | None = None  # noqa: N815
    seed: str | None = None
    requestBlock: int | None = None  # noqa: N815
    requestTx: str | None = None  # noqa: N815
    fulfilledBlock: int | None = None  # noqa: N815
    fulfilledTx: str | None = None  # noqa: N815
    deliveredBlock: int | None = None  # noqa: N815
    pendingTx: str | None = None  # noqa: N815
    attempts: int | None = None
    output: str | None = None
    proof: str | None = None
    failureReason: str | None = None  # noqa: N815
    source: str = "database"


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


async def _keys(request: Request) -> ServiceKeys:
    container: Container = request.app.state.container
    if container.chain_parts is not None and container.chain_parts.keys is not None:
        return container.chain_parts.keys
    keys = await load_service_keys(ChainStore(container.engine))
    if keys is None:
        raise ChainNotConfigured("the randomness keys do not exist yet (run `nsl chain up`)")
    return keys


@router.post("", summary="Random words off chain, with the same BLS proof and ECDSA signature as on chain")
async def generate(body: RandomnessRequest, request: Request, caller: Caller) -> RandomnessAnswer:
    container: Container = request.app.state.container
    keys = await _keys(request)
    seed = _hex(body.seed) if body.seed is not None else None
    answer = await randomness.generate_offchain(
        container.enclave, keys.randomness, caller.tenant_id, body.numWords, seed
    )
    return RandomnessAnswer(
        requestId=str(answer.request_id),
        seed=answer.seed.hex(),
        proof=answer.proof.hex(),
        output=answer.output.hex(),
        words=[str(w) for w in answer.words],
        signature=answer.signature.hex(),
        publicKey=answer.public_key.hex(),
        blsPublicKey=answer.bls_public_key.hex(),
    )


@router.post("/verify", summary="Check a proof against the published keys (pyblst, not the enclave)")
async def verify(body: VerifyRequest, request: Request, _caller: Caller) -> VerifyAnswer:
    keys = (await _keys(request)).randomness
    try:
        words = [int(w) for w in body.words] if body.words is not None else None
    except ValueError:
        raise InvalidInput("words must be decimal integers") from None
    verdict = verify_randomness(
        request_id=int(body.requestId),
        seed=_hex(body.seed),
        proof=_hex(body.proof),
        output=_hex(body.output),
        bls_public_key=keys.bls_public_key,
        words=words,
        signature=_hex(body.signature) if body.signature else None,
        public_key=keys.ecdsa_public_key,
    )
    return VerifyAnswer(
        valid=verdict.ok,
        proof=verdict.proof,
        output=verdict.output,
        words=verdict.words,
        signature=verdict.signature,
        blsPublicKey=keys.bls_public_key.hex(),
        publicKey=keys.ecdsa_public_key.hex(),
    )


_CHAIN_STATES = {1: "pending", 2: "fulfilled", 3: "delivered", 4: "callback_failed"}


@router.get(
    "/requests/{request_id}", summary="State of an on-chain request: seen, fulfilling, fulfilled, failed"
)
async def request_state(request_id: int, request: Request, _caller: Caller) -> RequestState:
    parts = chain_parts(request)
    contract = parts.network.randomness_contract
    if not contract:
        raise ChainNotConfigured("no randomness contract is configured")
    row = await parts.store.get(randomness.SERVICE, contract, request_id)
    if row is not None:
        failure = row.failure_reason or row.callback_failure
        return RequestState(
            requestId=str(request_id),
            contract=contract,
            status=row.status.value,
            consumer=row.consumer,
            numWords=row.num_words,
            seed=row.seed.hex(),
            requestBlock=row.request_block,
            requestTx=row.request_tx,
            fulfilledBlock=row.fulfilled_block,
            fulfilledTx=row.fulfilled_tx,
            deliveredBlock=row.delivered_block,
            pendingTx=row.tx_hash if row.status.value == "fulfilling" else None,
            attempts=row.attempts,
            output=row.output.hex() if row.output else None,
            proof=row.proof.hex() if row.proof else None,
            failureReason=failure,
        )
    stack = await parts.chain.read(ContractCall(contract, "getRequest", (request_id,)))
    state = int(stack[0][0]) if stack and isinstance(stack[0], tuple) else 0
    if state == 0:
        raise NotFound(f"request {request_id} is unknown to the randomness contract")
    return RequestState(
        requestId=str(request_id),
        contract=contract,
        status=_CHAIN_STATES.get(state, "unknown"),
        source="chain",
    )
