"""``/api/v1/oracle``: signed web fetches off chain, signature checks, request templates, request state."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.oracle import (
    MAX_BODY_BYTES,
    MAX_FILTER_CHARS,
    MAX_HEADERS,
    MAX_TIMEOUT_SECONDS,
    MAX_URL_BYTES,
    RESERVED_HEADERS,
    FetchSpec,
    OracleFacts,
    OracleResponse,
)
from neo_service_layer.enclave.wire.randomness import script_hash_bytes
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.encoding import Strict
from neo_service_layer.kernel.http.idempotency import IDEMPOTENT
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.services.oracle.parts import OracleParts
from neo_service_layer.services.oracle.rules import MAX_DESCRIPTION, MAX_TEMPLATE_CONSUMERS, OracleTemplate
from neo_service_layer.services.oracle.scopes import ORACLE_REQUEST
from neo_service_layer.services.oracle.use_cases.fulfilment import SERVICE, script_hash_hex

router = APIRouter(prefix="/oracle", tags=["oracle"])

Caller = Annotated[Principal, Depends(require_scope(ORACLE_REQUEST))]
#: a request id as stored (the database keeps 64-bit signed integers)
RequestId = Annotated[int, PathParam(ge=0, le=2**63 - 1)]
HEX = r"^(0x)?([0-9a-fA-F]{2})*$"
SCRIPT_HASH = r"^(0x)?[0-9a-fA-F]{40}$"


#: a header as the fetcher accepts it: an HTTP token name (not one the fetcher sets) and a value without
#: line breaks or NUL; the name rule has a lookahead, so the schema states it and ``FetchSpec.check``
#: checks it
_RESERVED = "|".join(
    "".join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in name)
    for name in sorted(RESERVED_HEADERS)
)
HEADER_SCHEMA: dict[str, Any] = {
    "type": "array",
    "prefixItems": [
        {"type": "string", "pattern": f"^(?!(?:{_RESERVED})$)[!#$%&'*+.^_`|~0-9A-Za-z-]{{1,64}}$"},
        {"type": "string", "pattern": "^[^\\r\\n\\x00]*$"},
    ],
    "minItems": 2,
    "maxItems": 2,
}
Header = Annotated[tuple[str, str], WithJsonSchema(HEADER_SCHEMA)]
#: a header in a response: the pair the request gave (checked then); stated without ``prefixItems``,
#: which response validators handle unevenly
HeaderOut = Annotated[
    tuple[str, str],
    WithJsonSchema({"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}),
]
#: a URL that references no secret (secrets go in headers or the body)
_NO_SECRET_URL = r"^(?!.*\{\{secret:)"  # noqa: S105 - a pattern, not a secret
#: a body only with POST
_BODY_ONLY_WITH_POST: dict[str, Any] = {
    "if": {"properties": {"method": {"const": "GET"}}},
    "then": {"properties": {"body": {"type": "null"}}},
}


class FetchRequest(Strict):
    """``url`` (with method, headers, body) or ``template``, exactly one."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["url"],
                    "properties": {"url": {"type": "string"}, "template": {"type": "null"}},
                },
                {
                    "required": ["template"],
                    "properties": {"template": {"type": "string"}, "url": {"type": "null"}},
                },
            ],
            "allOf": [_BODY_ONLY_WITH_POST],
        }
    )

    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_URL_BYTES,
        json_schema_extra={"pattern": _NO_SECRET_URL},
        description="https URL",
    )
    template: str | None = Field(
        default=None, pattern=r"^[a-z0-9]{8,40}$", description="a template id of this tenant"
    )
    filter: str = Field(default="", max_length=MAX_FILTER_CHARS, description="RFC 9535 JSONPath")
    method: Literal["GET", "POST"] = "GET"
    headers: list[Header] = Field(default_factory=list, max_length=MAX_HEADERS)
    body: str | None = Field(default=None, max_length=MAX_BODY_BYTES // 4)
    timeoutSeconds: float = Field(default=5.0, gt=0, le=MAX_TIMEOUT_SECONDS)  # noqa: N815


class OracleAnswer(BaseModel):
    requestId: str  # noqa: N815 - decimal: ids exceed JavaScript's safe integers
    code: int
    codeName: str  # noqa: N815
    result: str = Field(description="hex")
    resultText: str | None = Field(description="the result as UTF-8 text, when it is")  # noqa: N815
    timestamp: int
    #: what the answer is bound to (off chain: magic 0, the zero contract, a hash of the tenant)
    networkMagic: int  # noqa: N815
    contract: str
    consumer: str
    url: str
    filter: str
    signature: str
    publicKey: str  # noqa: N815
    keyVersion: int  # noqa: N815
    status: int | None
    contentType: str | None  # noqa: N815
    detail: str


class VerifyRequest(Strict):
    requestId: str = Field(pattern=r"^[0-9]{1,19}$")  # noqa: N815
    code: int = Field(ge=0, le=255)
    result: str = Field(pattern=HEX)
    timestamp: int = Field(ge=0, le=2**53 - 1, description="milliseconds since 1970")
    #: the network, contract and consumer the answer is bound to (``0x`` script hashes, big-endian as
    #: Neo shows them); an off-chain answer carries its own (magic 0, the zero contract)
    networkMagic: int = Field(ge=0, le=2**32 - 1)  # noqa: N815
    contract: str = Field(pattern=SCRIPT_HASH)
    consumer: str = Field(pattern=SCRIPT_HASH)
    url: str
    filter: str = ""
    signature: str = Field(pattern=HEX)


class VerifyAnswer(BaseModel):
    valid: bool
    publicKey: str  # noqa: N815


class TemplateIn(Strict):
    model_config = ConfigDict(json_schema_extra={"allOf": [_BODY_ONLY_WITH_POST]})

    url: str = Field(
        max_length=MAX_URL_BYTES,
        pattern=r"^https?://",
        json_schema_extra={"pattern": r"^(?!.*\{\{secret:)https?://"},
        description="the URL the template fetches (secrets only in headers or the body)",
    )
    method: Literal["GET", "POST"] = "GET"
    headers: list[Header] = Field(default_factory=list, max_length=MAX_HEADERS)
    body: str | None = Field(default=None, max_length=MAX_BODY_BYTES // 4)
    timeoutSeconds: float = Field(default=5.0, gt=0, le=MAX_TIMEOUT_SECONDS)  # noqa: N815
    allowedConsumers: list[Annotated[str, Field(pattern=SCRIPT_HASH)]] = Field(  # noqa: N815
        default_factory=list, max_length=MAX_TEMPLATE_CONSUMERS, description="repeats count once"
    )
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


class TemplateOut(BaseModel):
    id: str
    templateUrl: str  # noqa: N815
    url: str
    method: str
    headers: list[HeaderOut]
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


def _parts(request: Request) -> OracleParts:
    container: Container = request.app.state.container
    return container.parts_of(SERVICE, OracleParts)


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
        networkMagic=r.facts.magic,
        contract=script_hash_hex(r.facts.contract),
        consumer=script_hash_hex(r.facts.consumer),
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
    parts = _parts(request)
    answerer = await parts.answerer()
    template = None
    if body.template is not None:
        template = await parts.templates.get(caller.tenant_id, body.template)
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
    answer = await answerer.fetch_offchain(caller.tenant_id, spec, template, caller.credential)
    return _answer_out(answer)


@router.post("/verify", summary="Check an oracle answer's signature against the oracle key")
async def verify(body: VerifyRequest, request: Request, _caller: Caller) -> VerifyAnswer:
    facts = OracleFacts(
        magic=body.networkMagic,
        contract=script_hash_bytes(body.contract),
        request_id=int(body.requestId),
        consumer=script_hash_bytes(body.consumer),
        url=body.url,
        filter=body.filter,
    )
    valid, key = await _parts(request).verify(
        facts=facts,
        code=body.code,
        timestamp_ms=body.timestamp,
        result=bytes.fromhex(body.result.removeprefix("0x")),
        signature=bytes.fromhex(body.signature.removeprefix("0x")),
    )
    return VerifyAnswer(valid=valid, publicKey=key.public_key.hex())


@router.post(
    "/templates",
    status_code=201,
    summary="Register a request template (nsl://template/<id>)",
    dependencies=[IDEMPOTENT],
)
async def create_template(body: TemplateIn, request: Request, caller: Caller) -> TemplateOut:
    spec = FetchSpec(
        url=body.url,
        method=body.method,
        headers=tuple(body.headers),
        body=body.body,
        timeout_seconds=body.timeoutSeconds,
    )
    template = await _parts(request).templates.register(
        caller.tenant_id, spec, body.allowedConsumers, body.description
    )
    return _template_out(template)


@router.get("/templates", summary="This tenant's request templates")
async def list_templates(request: Request, caller: Caller) -> list[TemplateOut]:
    return [_template_out(t) for t in await _parts(request).templates.list(caller.tenant_id)]


@router.get("/templates/{template_id}", summary="One request template")
async def get_template(template_id: str, request: Request, caller: Caller) -> TemplateOut:
    return _template_out(await _parts(request).templates.get(caller.tenant_id, template_id))


@router.get("/requests/{request_id}", summary="State of an on-chain oracle request")
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
        url=row.asked.url,
        filter=row.asked.filter,
        requestBlock=row.request_block,
        fulfilledBlock=row.fulfilled_block,
        fulfilledTx=row.fulfilled_tx,
        deliveredBlock=row.delivered_block,
        pendingTx=row.pending_tx,
        attempts=row.attempts,
        code=answer.code if answer is not None else None,
        result=answer.result.hex() if answer is not None else None,
        failureReason=row.failure_reason or row.callback_failure,
    )
