"""Translating exceptions into problem responses, at the edge only."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from neo_service_layer.enclave.wire import errors as domain
from neo_service_layer.enclave.wire import keys
from neo_service_layer.kernel.db.unreachable import database_unreachable
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected
from neo_service_layer.kernel.http.problems import problem_response
from neo_service_layer.kernel.http.route_methods import RouteMethods

# Most specific first; the first class in an exception's MRO that appears here decides the status.
DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.InvalidInput: 422,
    domain.PermissionDenied: 403,
    domain.Unauthenticated: 401,
    domain.DependencyUnavailable: 503,
    domain.DomainError: 400,
}

_STATUS_CODES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    503: "unavailable",
}


def correlation_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def status_for(exc: domain.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 400


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else _STATUS_CODES.get(status, "error")
    if status == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}."
    headers = dict(exc.headers) if exc.headers else {}
    if status == 405:
        allowed = _allowed_methods(request)
        headers["allow"] = ", ".join(allowed)
        if detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {request.url.path} (allowed: {', '.join(allowed)})."
    return problem_response(
        status,
        code=_STATUS_CODES.get(status, "http-error"),
        detail=detail,
        instance=request.url.path,
        correlation_id=correlation_id(request),
        headers=headers or None,
    )


def _allowed_methods(request: Request) -> list[str]:
    table = getattr(request.app.state, "route_methods", None)
    return table.allowed(request.url.path) if isinstance(table, RouteMethods) else []


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields: list[dict[str, Any]] = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        fields.append(
            {
                "field": ".".join(location),
                "message": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "invalid")),
            }
        )
    return problem_response(
        422,
        code="validation-error",
        detail=f"{len(fields)} field(s) failed validation.",
        instance=request.url.path,
        correlation_id=correlation_id(request),
        extra={"errors": fields},
    )


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, domain.DomainError)
    status = status_for(exc)
    headers = {"www-authenticate": 'Bearer realm="nsl"'} if status == 401 else None
    return problem_response(
        status,
        code=exc.code,
        detail=str(exc) or exc.code,
        instance=request.url.path,
        correlation_id=correlation_id(request),
        headers=headers,
    )


ENCLAVE_STATUS: dict[type[keys.EnclaveOperationError], int] = {
    keys.SignRateExceeded: 429,
    keys.PolicyDenied: 403,
    keys.KeyDisabled: 409,
    keys.InvalidKeyRequest: 422,
    keys.SealedDataInvalid: 422,
    keys.KeyNotLoaded: 503,
    keys.AttestationFailed: 503,
}


async def _enclave_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, keys.EnclaveOperationError)
    status = next((ENCLAVE_STATUS[c] for c in type(exc).__mro__ if c in ENCLAVE_STATUS), 400)
    return problem_response(
        status,
        code=exc.code.replace("_", "-"),
        detail=str(exc) or exc.code,
        instance=request.url.path,
        correlation_id=correlation_id(request),
    )


async def _enclave_unavailable(request: Request, exc: Exception) -> Response:
    return problem_response(
        503,
        code="enclave-unavailable",
        detail="The enclave holding the keys is not reachable; retry shortly.",
        instance=request.url.path,
        correlation_id=correlation_id(request),
        headers={"retry-after": "2"},
    )


async def _database_error(request: Request, exc: Exception) -> Response:
    """A database server that is down or restarting is a 503 the client retries; anything else is a 500
    (re-raised to the server-error handler, which logs it)."""
    if not database_unreachable(exc):
        raise exc
    return problem_response(
        503,
        code="database-unavailable",
        detail="The database is not reachable; retry shortly.",
        instance=request.url.path,
        correlation_id=correlation_id(request),
        headers={"retry-after": "2"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(domain.DomainError, _domain_error)
    app.add_exception_handler(keys.EnclaveOperationError, _enclave_refusal)
    app.add_exception_handler(EnclaveUnavailable, _enclave_unavailable)
    app.add_exception_handler(EnclaveRequestRejected, _enclave_unavailable)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(ConnectionError, _database_error)
