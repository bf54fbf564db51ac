"""``/api/v1/oracle``: signed web fetches off chain, signature checks, request templates, request state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from neo_service_layer.bootstrap import Container
from neo_service_layer.enclave.wire.errors import InvalidInput, NotFound
from neo_service_layer.enclave.wire.keys import KeyKind, SignatureFormat
from neo_service_layer.enclave.wire.oracle import FetchSpec, OracleResponse, response_message
from neo_service_layer.kernel.chain.adapters.request_store import ChainStore
from neo_service_layer.kernel.chain.ports.chain import ChainNotConfigured, ContractCall
from neo_service_layer.kernel.chain.routes import chain_parts
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.identity import Principal, Scopes
from neo_service_layer.services.keys.adapters.public_keys import PublicKeyOperations
from neo_service_layer.services.oracle.adapters.oracle_key import load_oracle_key
from neo_service_layer.services.oracle.adapters.templates_store import OracleTemplates
from neo_service_layer.services.oracle.rules import OracleTemplate, decode_params
from neo_service_layer.services.oracle.use_cases import fulfilment as oracle
from neo_service_layer.services.oracle.use_cases.templates import OracleTemplateService
from neo_service_layer.services.secrets.rules import Consumer

router = APIRouter(prefix="/oracle", tags=["oracle"])

Caller = Annotated[Principal, Depends(require_scope(Scopes.ORACLE_REQUEST))]
HEX = r"^(0x)?([0-9a-fA-F]{2})*$"


class FetchRequest(BaseModel):
    url: str | None = Field(default=None, max_length=2048, description="https URL (or template)")
    template: str | None = Field(default=None, max_length=40, description="a template id of this tenant")
    filter: str = Field(default="", max_length=1024, description="RFC 9535 JSONPath")
    method: str = "GET"
    headers: list[tuple[str, str]] = Field(default_factory=list, max_length=32)
    body: str | None = None
    timeoutSeconds: float = Field(default=5.0, gt=0, le=30)  # noqa: N815


class OracleAnswer(BaseModel):
    requestId: str  # noqa: N815 - decimal: ids exceed JavaScript's safe integers
    code: int
    codeName: str  # noqa: N815
    result: str = Field(description="hex")
    resultText: str | None = Field(description="the result as UTF-8 text, when it is")  # noqa: N815
    timestamp: int
    url: str
    filter: str
    signature: str
    publicKey: str  # noqa: N815
    keyVersion: int  # noqa: N815
    status: int | None
    contentType: str | None  # noqa: N815
    detail: str


class VerifyRequest(BaseModel):
    requestId: str = Field(pattern=r"^[0-9]{1,19}$")  # noqa: N815
    code: int = Field(ge=0, le=255)
    result: str = Field(pattern=HEX)
    timestamp: int = Field(ge=0)
    url: str
    filter: str = ""
    signature: str = Field(pattern=HEX)


class VerifyAnswer(BaseModel):
    valid: bool
    publicKey: str  # noqa: N815


class TemplateIn(BaseModel):
    url: str = Field(max_length=2048)
    method: str = "GET"
    headers: list[tuple[str, str]] = Field(default_factory=list, max_length=32)
    body: str | None = None
    timeoutSeconds: float = Field(default=5.0, gt=0, le=30)  # noqa: N815
    allowedConsumers: list[str] = Field(default_factory=list, max_length=32)  # noqa: N815
    description: str = Field(default="", max_length=200)


class TemplateOut(BaseModel):
    id: str
    templateUrl: str  # noqa: N815
    url: str
    method: str
    headers: list[tuple[str, str]]
    body: str | None
    secrets: list[str]
    allowedConsumers: list[str]  # noqa: N815
    description: str
    createdAt: str  # noqa: N815


class RequestStateOut(BaseModel):
    requestId: str  # noqa: N815
    contract: str
    status: str
    consumer: str | None = None
    url: str | None = None
    filter: str | None = None
    requestBlock: int | None = None  # noqa: N815
    fulfilledBlock: int | None = None  # noqa: N815
    fulfilledTx: str | None = None  # noqa: N815
    deliveredBlock: int | None = None  # noqa: N815
    pendingTx: str | None = None  # noqa: N815
    attempts: int | None = None
    code: int | None = None
    result: str | None = None
    failureReason: str | None = None  # noqa: N815
    source: str = "database"


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _templates(request: Request) -> OracleTemplateService:
    container = _container(request)
    return OracleTemplateService(OracleTemplates(container.engine), container.clock)


async def _key(request: Request) -> oracle.OracleKey:
    container = _container(request)
    if container.chain_parts is not None and container.chain_parts.oracle_key is not None:
        return container.chain_parts.oracle_key
    key = await load_oracle_key(ChainStore(container.engine))
    if key is None:
        raise ChainNotConfigured("the oracle key does not exist yet (run `nsl chain up`)")
    return key


def _template_out(t: OracleTemplate) -> TemplateOut:
    return TemplateOut(
        id=t.template_id,
        templateUrl=t.url,
        url=t.spec.url,
        method=t.spec.method,
        headers=list(t.spec.headers),
        body=t.spec.body,
        secrets=t.spec.secret_names(),
        allowedConsumers=list(t.allowed_consumers),
        description=t.description,
        createdAt=t.created_at.isoformat(),
    )


def _answer_out(r: OracleResponse) -> OracleAnswer:
    try:
        text: str | None = r.result.decode()
    except UnicodeDecodeError:
        text = None
    return OracleAnswer(
        requestId=str(r.request_id),
        code=int(r.code),
        codeName=r.code.name,
        result=r.result.hex(),
        resultText=text,
        timestamp=r.timestamp_ms,
        url=r.url,
        filter=r.filter,
        signature=r.signature.hex(),
        publicKey=r.public_key.hex(),
        keyVersion=r.key_version,
        status=r.status,
        contentType=r.content_type,
        detail=r.detail,
    )


@router.post("/fetch", summary="Fetch a URL (or a template) in the enclave; the answer is signed")
async def fetch(body: FetchRequest, request: Request, caller: Caller) -> OracleAnswer:
    container = _container(request)
    key = await _key(request)

    async def sealed(tenant: str, name: str) -> tuple[str, bytes]:
        return await container.vault.secrets.sealed_for_consumer(tenant, name, Consumer.ORACLE)

    answerer = oracle.OracleAnswerer(
        lambda: container.enclave, key, OracleTemplates(container.engine), sealed, container.clock
    )
    template = None
    if body.template is not None:
        template = await _templates(request).get(caller.tenant_id, body.template)
        spec = FetchSpec(url=template.spec.url, filter=body.filter)
    elif body.url is not None:
        spec = FetchSpec(
            url=body.url,
            method=body.method,
            headers=tuple(body.headers),
            body=body.body,
            filter=body.filter,
            timeout_seconds=body.timeoutSeconds,
        ).check()
    else:
        raise InvalidInput("give url or template")
    return _answer_out(await answerer.fetch_offchain(caller.tenant_id, spec, template))


@router.post("/verify", summary="Check an oracle answer's signature against the oracle key")
async def verify(body: VerifyRequest, request: Request, _caller: Caller) -> VerifyAnswer:
    key = await _key(request)
    message = response_message(
        int(body.requestId),
        body.code,
        body.timestamp,
        body.url,
        body.filter,
        bytes.fromhex(body.result.removeprefix("0x")),
    )
    valid = PublicKeyOperations().verify(
        KeyKind.SECP256R1,
        SignatureFormat.ECDSA_SHA256,
        key.public_key,
        message,
        bytes.fromhex(body.signature.removeprefix("0x")),
    )
    return VerifyAnswer(valid=valid, publicKey=key.public_key.hex())


@router.post("/templates", status_code=201, summary="Register a request template (nsl://template/<id>)")
async def create_template(body: TemplateIn, request: Request, caller: Caller) -> TemplateOut:
    spec = FetchSpec(
        url=body.url,
        method=body.method,
        headers=tuple(body.headers),
        body=body.body,
        timeout_seconds=body.timeoutSeconds,
    )
    template = await _templates(request).register(
        caller.tenant_id, spec, body.allowedConsumers, body.description
    )
    return _template_out(template)


@router.get("/templates", summary="This tenant's request templates")
async def list_templates(request: Request, caller: Caller) -> list[TemplateOut]:
    return [_template_out(t) for t in await _templates(request).list(caller.tenant_id)]


@router.get("/templates/{template_id}", summary="One request template")
async def get_template(template_id: str, request: Request, caller: Caller) -> TemplateOut:
    return _template_out(await _templates(request).get(caller.tenant_id, template_id))


_CHAIN_STATES = {1: "pending", 2: "fulfilled", 3: "delivered", 4: "callback_failed"}


@router.get("/requests/{request_id}", summary="State of an on-chain oracle request")
async def request_state(request_id: int, request: Request, _caller: Caller) -> RequestStateOut:
    parts = chain_parts(request)
    contract = parts.oracle_contract
    if not contract:
        raise ChainNotConfigured("no oracle contract is configured")
    row = await parts.store.get(oracle.SERVICE, contract, request_id)
    if row is not None:
        url, filter_ = decode_params(row.seed)
        answer = oracle.stored_answer(row)
        return RequestStateOut(
            requestId=str(request_id),
            contract=contract,
            status=row.status.value,
            consumer=row.consumer,
            url=url,
            filter=filter_,
            requestBlock=row.request_block,
            fulfilledBlock=row.fulfilled_block,
            fulfilledTx=row.fulfilled_tx,
            deliveredBlock=row.delivered_block,
            pendingTx=row.tx_hash if row.status.value == "fulfilling" else None,
            attempts=row.attempts,
            code=answer[0] if answer else None,
            result=row.output.hex() if row.output is not None and answer else None,
            failureReason=row.failure_reason or row.callback_failure,
        )
    stack = await parts.chain.read(ContractCall(contract, "getRequest", (request_id,)))
    state = int(stack[0][0]) if stack and isinstance(stack[0], tuple) else 0
    if state == 0:
        raise NotFound(f"request {request_id} is unknown to the oracle contract")
    return RequestStateOut(
        requestId=str(request_id),
        contract=contract,
        status=_CHAIN_STATES.get(state, "unknown"),
        source="chain",
    )
