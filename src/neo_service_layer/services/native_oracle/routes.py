"""``POST /api/v1/native-oracle/rpc``: this node's JSON-RPC endpoint for the other designated oracle
nodes, serving ``submitoracleresponse`` as a neo-go node does (the URL the other nodes list as this
node's: neo-go's ``Oracle.Nodes``, our ``NSL_NEO_ORACLE_PEERS``).

Params, as neo-go: ``[public key (base64, compressed), request id, transaction signature (base64),
message signature (base64) over key || u64le(id) || transaction signature]``; the result is ``{}``.
No API key: the message signature under a key designated for the Oracle role is the authentication,
and a signature only counts in a witness when it verifies against this node's own transaction.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.container import Container
from neo_service_layer.services.native_oracle.gathering import (
    INVALID_PARAMS,
    SignatureGatherer,
    SubmissionRefused,
)
from neo_service_layer.services.native_oracle.parts import NativeOracleKeys
from neo_service_layer.services.native_oracle.use_cases import SERVICE

router = APIRouter(prefix="/native-oracle", tags=["native-oracle"])

_PARSE_ERROR = -32700
_INVALID_REQUEST = -32600
_METHOD_NOT_FOUND = -32601
_INTERNAL = -32603
#: neo-go's ``ErrOracleDisabled``: this process does not serve the native Oracle
_DISABLED = -602


def _reply(request_id: Any, result: Any = None, error: tuple[int, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if error is None:
        body["result"] = result
    else:
        body["error"] = {"code": error[0], "message": error[1]}
    return JSONResponse(body)


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise SubmissionRefused(INVALID_PARAMS, f"{what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SubmissionRefused(INVALID_PARAMS, f"{what} is not base64") from None


def _params(params: Any) -> tuple[bytes, int, bytes, bytes]:
    if not isinstance(params, list) or len(params) < 4:
        raise SubmissionRefused(
            INVALID_PARAMS, "expected [public key, request id, tx signature, msg signature]"
        )
    request_id = params[1]
    if isinstance(request_id, str) and request_id.isdigit():
        request_id = int(request_id)
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise SubmissionRefused(INVALID_PARAMS, "request ID is missing")
    return (
        _b64(params[0], "public key"),
        request_id,
        _b64(params[2], "tx signature"),
        _b64(params[3], "msg signature"),
    )


@router.post("/rpc")
async def rpc(request: Request) -> JSONResponse:
    """One JSON-RPC 2.0 call (no batches): ``submitoracleresponse``."""
    try:
        call = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _reply(None, error=(_PARSE_ERROR, "Parse error"))
    if not isinstance(call, dict) or not isinstance(call.get("method"), str):
        return _reply(None, error=(_INVALID_REQUEST, "Invalid Request"))
    call_id = call.get("id")
    if not isinstance(call_id, int | str | None) or isinstance(call_id, bool):
        call_id = None
    if call["method"] != "submitoracleresponse":
        return _reply(call_id, error=(_METHOD_NOT_FOUND, "Method not found"))
    container: Container = request.app.state.container
    keys = container.parts.get(SERVICE)
    gatherer = keys.gatherer if isinstance(keys, NativeOracleKeys) else None
    if gatherer is None or container.chain is None:
        return _reply(call_id, error=(_DISABLED, "Oracle service is not running"))
    return await _submit(gatherer, container, call_id, call.get("params"))


async def _submit(
    gatherer: SignatureGatherer, container: Container, call_id: Any, params: Any
) -> JSONResponse:
    assert container.chain is not None
    try:
        await gatherer.receive_and_send(container.chain.chain, *_params(params))
    except SubmissionRefused as exc:
        return _reply(call_id, error=(exc.code, str(exc)))
    except ChainUnavailable:
        return _reply(call_id, error=(_INTERNAL, "this node's Neo node is unavailable"))
    return _reply(call_id, result={})
