"""``/api/v1/randomness``: verifiable random words off chain, proof checks, and on-chain request state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from neo_service_layer.enclave.wire.errors import InvalidInput, NotFound
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.encoding import Strict
from neo_service_layer.kernel.http.idempotency import IDEMPOTENT
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.randomness import rules
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.adapters.proofs import facts_or_none
from neo_service_layer.services.randomness.parts import RandomnessParts
from neo_service_layer.services.randomness.scopes import RANDOMNESS_REQUEST
from neo_service_layer.services.randomness.use_cases import evm as randomness_evm

router = APIRouter(prefix="/randomness", tags=["randomness"])

Caller = Annotated[Principal, Depends(require_scope(RANDOMNESS_REQUEST))]
#: a request id as stored (the database keeps 64-bit signed integers)
RequestId = Annotated[int, PathParam(ge=0, le=2**63 - 1)]
HEX = r"^(0x)?([0-9a-fA-F]{2})*$"
SCRIPT_HASH = r"^(0x)?[0-9a-fA-F]{40}$"


class RandomnessRequest(Strict):
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
    #: what the answer is bound to (off chain: magic 0, the zero contract, a hash of the tenant)
    networkMagic: int  # noqa: N815
    contract: str
    consumer: str


class VerifyRequest(Strict):
    requestId: str = Field(pattern=r"^[0-9]{1,19}$")  # noqa: N815
    #: the network, contract and consumer the answer is bound to (``0x`` script hashes, big-endian as
    #: Neo shows them); an off-chain answer carries its own (magic 0, the zero contract)
    networkMagic: int = Field(ge=0, le=2**32 - 1)  # noqa: N815
    contract: str = Field(pattern=SCRIPT_HASH)
    consumer: str = Field(pattern=SCRIPT_HASH)
    seed: str = Field(pattern=HEX)
    proof: str = Field(pattern=HEX)
    output: str = Field(pattern=HEX)
    words: list[Annotated[str, Field(pattern=r"^[0-9]{1,78}$")]] | None = Field(
        default=None, max_length=rules.MAX_WORDS, description="decimal integers"
    )
    signature: str | None = Field(default=None, pattern=HEX)
    #: the keys an answer names (so an answer can be posted back as it came): when given, the verdict is
    #: invalid unless they are the service's own keys, which are what the proof is checked against
    publicKey: str | None = Field(default=None, pattern=HEX, max_length=2 + 2 * 33)  # noqa: N815
    blsPublicKey: str | None = Field(default=None, pattern=HEX, max_length=2 + 2 * 48)  # noqa: N815


class VerifyAnswer(BaseModel):
    valid: bool
    proof: bool
    output: bool
    words: bool | None
    signature: bool | None
    blsPublicKey: str  # noqa: N815
    publicKey: str  # noqa: N815


class RequestStateOut(BaseModel):
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


def _parts(request: Request) -> RandomnessParts:
    container: Container = request.app.state.container
    return container.parts_of(randomness.SERVICE, RandomnessParts)


@router.post(
    "",
    summary="Random words off chain, with the same BLS proof and ECDSA signature as on chain",
    dependencies=[IDEMPOTENT],
)
async def generate(body: RandomnessRequest, request: Request, caller: Caller) -> RandomnessAnswer:
    parts = _parts(request)
    seed = _hex(body.seed) if body.seed is not None else None
    answer = await randomness.generate_offchain(
        parts.enclave(), await parts.keys(), caller.tenant_id, body.numWords, seed
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
        networkMagic=answer.magic,
        contract=randomness.script_hash_hex(answer.contract),
        consumer=randomness.script_hash_hex(answer.consumer),
    )


@router.post("/verify", summary="Check a proof against the published keys (pyblst, not the enclave)")
async def verify(body: VerifyRequest, request: Request, _caller: Caller) -> VerifyAnswer:
    try:
        words = [int(w) for w in body.words] if body.words is not None else None
    except ValueError:
        raise InvalidInput("words must be decimal integers") from None
    facts = facts_or_none(
        magic=body.networkMagic,
        contract=rules.script_hash_bytes(body.contract),
        request_id=int(body.requestId),
        consumer=rules.script_hash_bytes(body.consumer),
        seed=_hex(body.seed),
    )
    verdict, keys = await _parts(request).verify(
        facts=facts,
        proof=_hex(body.proof),
        output=_hex(body.output),
        words=words,
        signature=_hex(body.signature) if body.signature else None,
    )
    named = [(body.publicKey, keys.ecdsa_public_key), (body.blsPublicKey, keys.bls_public_key)]
    keys_match = all(text is None or _hex(text) == key for text, key in named)
    return VerifyAnswer(
        valid=verdict.ok and keys_match,
        proof=verdict.proof,
        output=verdict.output,
        words=verdict.words,
        signature=verdict.signature,
        blsPublicKey=keys.bls_public_key.hex(),
        publicKey=keys.ecdsa_public_key.hex(),
    )


@router.get(
    "/requests/{request_id}", summary="State of an on-chain request: seen, fulfilling, fulfilled, failed"
)
async def request_state(request_id: RequestId, request: Request, _caller: Caller) -> RequestStateOut:
    found = await _parts(request).requests().state(request_id)
    row = found.stored
    if row is None:
        return RequestStateOut(
            requestId=str(request_id), contract=found.contract, status=found.status, source="chain"
        )
    answer = row.answer
    return RequestStateOut(
        requestId=str(request_id),
        contract=found.contract,
        status=found.status,
        consumer=row.consumer,
        numWords=row.asked.num_words,
        seed=row.asked.seed.hex(),
        requestBlock=row.request_block,
        requestTx=row.request_tx,
        fulfilledBlock=row.fulfilled_block,
        fulfilledTx=row.fulfilled_tx,
        deliveredBlock=row.delivered_block,
        pendingTx=row.pending_tx,
        attempts=row.attempts,
        output=answer.output.hex() if answer is not None else None,
        proof=answer.proof.hex() if answer is not None else None,
        failureReason=row.failure_reason or row.callback_failure,
    )


class EvmRequestStateOut(BaseModel):
    requestId: str  # noqa: N815
    chainId: int  # noqa: N815
    contract: str
    #: ``seen``, ``fulfilling``, ``fulfilled``, ``delivered``, ``callback_failed``, ``failed`` (stored);
    #: ``pending`` or ``fulfilled`` (only the contract knows it yet)
    status: str
    consumer: str
    seed: str
    requestBlock: int | None = None  # noqa: N815
    requestTx: str | None = None  # noqa: N815
    fulfilledBlock: int | None = None  # noqa: N815
    fulfilledTx: str | None = None  # noqa: N815
    pendingTx: str | None = None  # noqa: N815
    attempts: int | None = None
    randomness: str | None = None
    proof: str | None = None
    failureReason: str | None = None  # noqa: N815
    source: str = "database"


@router.get(
    "/neox/requests/{request_id}",
    summary="State of a request to the EVM (Neo X) randomness contract, with its answer and why it failed",
)
async def evm_request_state(request_id: RequestId, request: Request, _caller: Caller) -> EvmRequestStateOut:
    store, gateway = _parts(request).evm_requests()
    row = await store.get(randomness_evm.EVM_SERVICE, gateway.address, request_id)
    if row is None:
        held = await gateway.request_of(request_id)
        if held is None:
            raise NotFound(f"request {request_id} is unknown to the EVM randomness contract")
        consumer, seed, fulfilled = held
        return EvmRequestStateOut(
            requestId=str(request_id),
            chainId=gateway.chain.chain_id,
            contract=gateway.address,
            status="fulfilled" if fulfilled else "pending",
            consumer=consumer,
            seed=seed.hex(),
            source="chain",
        )
    answer = row.answer
    return EvmRequestStateOut(
        requestId=str(request_id),
        chainId=gateway.chain.chain_id,
        contract=gateway.address,
        status=row.status.value,
        consumer=row.consumer,
        seed=row.asked.seed.hex(),
        requestBlock=row.request_block,
        requestTx=row.request_tx,
        fulfilledBlock=row.fulfilled_block,
        fulfilledTx=row.fulfilled_tx,
        pendingTx=row.pending_tx,
        attempts=row.attempts,
        randomness=answer.output.hex() if answer is not None else None,
        proof=answer.proof.hex() if answer is not None else None,
        failureReason=row.failure_reason or row.callback_failure,
    )
