"""``/api/v1/compute``: a tenant's functions (upload as Python or JavaScript source, or a WebAssembly
module), their off-chain runs with signed receipts, and receipt verification."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, JsonValue

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.encoding import Strict
from neo_service_layer.kernel.http.idempotency import IDEMPOTENT
from neo_service_layer.kernel.http.security import Meta, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.compute.parts import SERVICE, ComputeParts
from neo_service_layer.services.compute.rules import (
    FUNCTION_ID_PATTERN,
    MAX_GRANTED_SECRETS,
    NAME_PATTERN,
    RUN_ID_PATTERN,
    ComputeFunction,
    Language,
    RunRecord,
    input_text,
    outcome_name,
)
from neo_service_layer.services.compute.scopes import COMPUTE_READ, COMPUTE_WRITE
from neo_service_layer.services.compute.use_cases.functions import NewFunction
from neo_service_layer.services.compute.use_cases.receipts import Receipt, receipt_of, verify_receipt

router = APIRouter(prefix="/compute", tags=["compute"])

Reader = Annotated[Principal, Depends(require_scope(COMPUTE_READ))]
Writer = Annotated[Principal, Depends(require_scope(COMPUTE_WRITE))]
FunctionId = Annotated[str, PathParam(pattern=FUNCTION_ID_PATTERN)]
RunId = Annotated[str, PathParam(pattern=RUN_ID_PATTERN)]
RequestId = Annotated[int, PathParam(ge=0, le=2**63 - 1)]
MAX_SOURCE_CHARS = 256 * 1024
SecretName = Annotated[
    str, Field(min_length=1, max_length=100, pattern="^[A-Za-z0-9][A-Za-z0-9_.@/-]{0,99}$")
]


class Limits(Strict):
    """Per-run limits within the operator's maxima (``NSL_COMPUTE_MAX_*``); unnamed ones take defaults."""

    fuel: Annotated[int, Field(ge=1_000_000, le=10**15)] | None = None
    memory_bytes: Annotated[int, Field(ge=32 * 1024 * 1024, le=2**40)] | None = None
    wall_ms: Annotated[int, Field(ge=100, le=86_400_000)] | None = None
    fetches: Annotated[int, Field(ge=0, le=1000)] | None = None
    fetch_response_bytes: Annotated[int, Field(ge=1024, le=2**40)] | None = None
    fetch_timeout_ms: Annotated[int, Field(ge=100, le=86_400_000)] | None = None
    result_bytes: Annotated[int, Field(ge=1, le=2**40)] | None = None


class FunctionIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=NAME_PATTERN)]
    language: Literal["python", "javascript", "wasm"]
    #: Python or JavaScript source defining ``run(input)`` (docs/compute.md)
    source: Annotated[str, Field(min_length=1, max_length=MAX_SOURCE_CHARS)] | None = None
    #: a WebAssembly component (world ``nsl:compute/function``) or core module (ABI ``nsl-core-1``)
    moduleBase64: Annotated[str, Field(min_length=12, pattern="^[A-Za-z0-9+/]+={0,2}$")] | None = None  # noqa: N815
    limits: Limits | None = None
    #: names of the tenant's secrets the function may read (each must allow the consumer ``compute``)
    secrets: Annotated[list[SecretName], Field(max_length=MAX_GRANTED_SECRETS)] = []
    #: may be requested on chain by any contract through the compute contract
    onChain: bool = False  # noqa: N815


class FunctionOut(BaseModel):
    functionId: str  # noqa: N815
    name: str
    language: str
    #: SHA-256 of the artefact: the function's version, signed in every receipt and answer
    digest: str
    size: int
    limits: dict[str, int]
    secrets: list[str]
    onChain: bool  # noqa: N815
    createdAt: datetime  # noqa: N815


class FunctionList(BaseModel):
    functions: list[FunctionOut]
    #: pass as ``after`` for the next page; ``None`` on the last page
    next: str | None


class RunIn(Strict):
    #: handed to the function as JSON
    input: JsonValue = None


class ReceiptOut(BaseModel):
    version: int
    tenant: str
    functionId: str  # noqa: N815
    functionHash: str  # noqa: N815
    inputSha256: str  # noqa: N815
    code: int
    timestamp: int
    resultSha256: str  # noqa: N815
    signature: str
    publicKey: str  # noqa: N815
    keyVersion: int  # noqa: N815


class RunOut(BaseModel):
    runId: str  # noqa: N815
    functionId: str  # noqa: N815
    #: success, function_error, trap, fuel_exhausted, memory_limit, timeout, fetch_refused,
    #: result_too_large, secret_unavailable, not_found, invalid_module, forbidden, bad_input
    outcome: str
    code: int
    #: why the run did not succeed, naming the limit and its value when one was hit
    detail: str
    resultBase64: str  # noqa: N815
    #: the result as text when it is UTF-8
    resultText: str | None  # noqa: N815
    fuelUsed: int  # noqa: N815
    wallMs: int  # noqa: N815
    fetches: int
    createdAt: datetime  # noqa: N815
    receipt: ReceiptOut
    #: the end of what the function wrote to stdout/stderr (this answer only; not kept)
    log: str | None = None
    #: the limits the run had
    limits: dict[str, int] | None = None


class RunList(BaseModel):
    runs: list[RunOut]


class RequestStateOut(BaseModel):
    requestId: str  # noqa: N815
    contract: str
    #: pending, fulfilled, delivered, callback_failed, failed, refunded (as stored, else the contract's)
    status: str
    consumer: str | None = None
    functionId: str | None = None  # noqa: N815
    args: str | None = None
    requestBlock: int | None = None  # noqa: N815
    fulfilledBlock: int | None = None  # noqa: N815
    fulfilledTx: str | None = None  # noqa: N815
    deliveredBlock: int | None = None  # noqa: N815
    pendingTx: str | None = None  # noqa: N815
    attempts: int | None = None
    #: the answer last sent: its outcome, the hash of the code that ran, and why it did not succeed
    outcome: str | None = None
    code: int | None = None
    functionHash: str | None = None  # noqa: N815
    result: str | None = None
    detail: str | None = None
    failureReason: str | None = None  # noqa: N815
    source: str = "database"


class KeyOut(BaseModel):
    #: the compute key (secp256r1, compressed, hex) that signs receipts and on-chain answers
    publicKey: str  # noqa: N815


Hex32 = Annotated[str, Field(pattern="^[0-9a-f]{64}$")]


class ReceiptIn(Strict):
    """A receipt as ``POST .../runs`` answers it (``receipt``)."""

    version: Literal[1]
    tenant: Annotated[str, Field(min_length=1, max_length=64)]
    functionId: Annotated[str, Field(min_length=1, max_length=64)]  # noqa: N815
    functionHash: Hex32  # noqa: N815
    inputSha256: Hex32  # noqa: N815
    code: Annotated[int, Field(ge=0, le=2**32 - 1)]
    timestamp: Annotated[int, Field(ge=0, le=2**53)]  # JSON numbers are exact to 2^53
    resultSha256: Hex32  # noqa: N815
    signature: Annotated[str, Field(pattern="^[0-9a-f]{128}$")]
    publicKey: Annotated[str, Field(pattern="^[0-9a-f]{66}$")]  # noqa: N815
    keyVersion: Annotated[int, Field(ge=0, le=2**31 - 1)]  # noqa: N815


class VerifyIn(Strict):
    receipt: ReceiptIn
    resultBase64: Annotated[str, Field(max_length=2 * 1024 * 1024)] | None = None  # noqa: N815
    input: JsonValue = None


class VerifyOut(BaseModel):
    valid: bool
    problems: list[str]


def _parts(request: Request) -> ComputeParts:
    container: Container = request.app.state.container
    return container.parts_of(SERVICE, ComputeParts)


def _function(fn: ComputeFunction) -> FunctionOut:
    return FunctionOut(
        functionId=fn.function_id,
        name=fn.name,
        language=fn.language.value,
        digest=fn.digest,
        size=fn.size,
        limits=fn.limits,
        secrets=list(fn.secrets),
        onChain=fn.on_chain,
        createdAt=fn.created_at,
    )


def _run(
    run: RunRecord, public_key: bytes, log: str | None = None, limits: dict[str, int] | None = None
) -> RunOut:
    try:
        text: str | None = run.result.decode()
    except UnicodeDecodeError:
        text = None
    return RunOut(
        runId=run.run_id,
        functionId=run.function_id,
        outcome=run.outcome,
        code=run.code,
        detail=run.detail,
        resultBase64=base64.b64encode(run.result).decode(),
        resultText=text,
        fuelUsed=run.fuel_used,
        wallMs=run.wall_ms,
        fetches=run.fetches,
        createdAt=run.created_at,
        receipt=ReceiptOut(**receipt_of(run, public_key).to_dict()),
        log=log,
        limits=limits,
    )


@router.post(
    "/functions",
    status_code=201,
    summary="Upload a function: built to WebAssembly and compiled in the enclave",
    dependencies=[IDEMPOTENT],
)
async def create_function(body: FunctionIn, principal: Writer, request: Request, meta: Meta) -> FunctionOut:
    module = None
    if body.moduleBase64 is not None:
        try:
            module = base64.b64decode(body.moduleBase64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("moduleBase64 is not base64") from None
    limits = {k: v for k, v in (body.limits.model_dump() if body.limits else {}).items() if v is not None}
    new = NewFunction(
        name=body.name,
        language=Language(body.language),
        source=body.source,
        module=module,
        limits=limits,
        secrets=list(body.secrets),
        on_chain=body.onChain,
    )
    return _function(await _parts(request).functions.create(principal, meta, new))


@router.get("/functions", summary="The tenant's functions, by id")
async def list_functions(
    request: Request,
    principal: Reader,
    after: Annotated[
        str | None, Query(pattern=FUNCTION_ID_PATTERN, description="list ids above this one")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> FunctionList:
    found = await _parts(request).functions.page(principal.tenant_id, after=after, limit=limit)
    page = [_function(f) for f in found]
    return FunctionList(functions=page, next=page[-1].functionId if len(page) == limit else None)


@router.get("/functions/{function_id}", summary="One function")
async def get_function(function_id: FunctionId, request: Request, principal: Reader) -> FunctionOut:
    return _function(await _parts(request).functions.one(principal.tenant_id, function_id))


@router.post(
    "/functions/{function_id}/runs",
    summary="Run a function in the enclave; the answer carries the result and its signed receipt",
    dependencies=[IDEMPOTENT],
)
async def run_function(function_id: FunctionId, body: RunIn, request: Request, principal: Writer) -> RunOut:
    parts = _parts(request)
    run, outcome = await parts.functions.run(principal, function_id, body.input)
    return _run(run, outcome.public_key, outcome.log, outcome.limits)


@router.get("/functions/{function_id}/runs", summary="A function's latest runs, newest first")
async def list_runs(
    function_id: FunctionId,
    request: Request,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> RunList:
    parts = _parts(request)
    key = await parts.key()
    runs = await parts.functions.runs(principal.tenant_id, function_id, limit=limit)
    return RunList(runs=[_run(r, key.public_key) for r in runs])


@router.get("/runs/{run_id}", summary="One run with its receipt")
async def get_run(run_id: RunId, request: Request, principal: Reader) -> RunOut:
    parts = _parts(request)
    return _run(await parts.functions.one_run(principal.tenant_id, run_id), (await parts.key()).public_key)


@router.get(
    "/requests/{request_id}", summary="State of an on-chain compute request, and why it is where it is"
)
async def request_state(request_id: RequestId, request: Request, _caller: Reader) -> RequestStateOut:
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
        functionId=row.asked.function_id,
        args=row.asked.args.decode(errors="replace"),
        requestBlock=row.request_block,
        fulfilledBlock=row.fulfilled_block,
        fulfilledTx=row.fulfilled_tx,
        deliveredBlock=row.delivered_block,
        pendingTx=row.pending_tx,
        attempts=row.attempts,
        outcome=outcome_name(answer.code) if answer is not None else None,
        code=answer.code if answer is not None else None,
        functionHash=answer.function_hash.hex() if answer is not None else None,
        result=answer.result.hex() if answer is not None else None,
        detail=answer.detail if answer is not None else None,
        failureReason=row.failure_reason or row.callback_failure,
    )


@router.get("/key", summary="The compute key that signs receipts and on-chain answers")
async def compute_key(request: Request, principal: Reader) -> KeyOut:
    return KeyOut(publicKey=(await _parts(request).key()).public_key.hex())


@router.post(
    "/receipts/verify",
    summary="Check a receipt (and optionally its result and input) against the compute key",
)
async def verify(body: VerifyIn, request: Request, principal: Reader) -> VerifyOut:
    receipt = Receipt.from_dict(body.receipt.model_dump())
    result = None
    if body.resultBase64 is not None:
        try:
            result = base64.b64decode(body.resultBase64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("resultBase64 is not base64") from None
    signed_input = input_text(body.input) if "input" in body.model_fields_set else None
    trusted = [(await _parts(request).key()).public_key]
    verdict = verify_receipt(receipt, trusted, result=result, input_text=signed_input)
    return VerifyOut(valid=verdict.valid, problems=verdict.problems)
