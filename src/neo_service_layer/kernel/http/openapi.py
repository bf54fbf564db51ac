"""The OpenAPI document states every error an operation can answer, as the problem documents it sends.

FastAPI documents a route's success response and a 422 in its own shape; the API answers errors as
RFC 9457 problem documents (``application/problem+json``) from the edge (authentication, scopes, rate
limits, body size) and from the domain (not found, conflict, invalid input, a dependency down). This
module adds them to the generated document by rule, from what each operation is: secured or not, with
path parameters, with input, writing or reading. A generated client then knows every status it can
meet and the body that comes with it; ``tests/http/test_openapi_conformance.py`` checks the rules
against the running server with schemathesis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from neo_service_layer.kernel.http.idempotency_openapi import document_idempotency
from neo_service_layer.kernel.http.problems import PROBLEM_CONTENT_TYPE

API_PREFIX = "/api/v1"

PROBLEM_SCHEMA = "Problem"

_PROBLEM: dict[str, Any] = {
    "title": PROBLEM_SCHEMA,
    "description": "RFC 9457 problem details; `correlation_id` is the id to quote to support.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance", "correlation_id"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "correlation_id": {"type": "string"},
        "errors": {
            "description": "Present on 422 validation errors: one entry per field that failed.",
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

_DESCRIPTIONS = {
    400: "The request is well formed but the operation does not apply (problem document says why)",
    401: "No valid credential (`Authorization: Bearer <access token or API key>`)",
    403: "The credential lacks a scope this operation needs, or belongs to another tenant",
    404: "No such resource for this tenant",
    409: "The resource is not in a state that allows this operation",
    413: "The request body is larger than the server accepts",
    422: "The request does not satisfy the schema or a rule the schema cannot state",
    429: "Rate limited; `Retry-After` says when to retry",
    503: "A dependency (database, enclave, chain) is unavailable; retry later",
}

_WRITES = frozenset({"post", "put", "patch", "delete"})


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what it is."""
    parameters = operation.get("parameters", [])
    has_path = any(p.get("in") == "path" for p in parameters)
    has_body = "requestBody" in operation
    statuses = {503}
    if operation.get("security"):
        # a secured operation also looks up what it names (a key, a tenant, a template) for the caller
        statuses |= {401, 403, 404, 429}
    if path.startswith(API_PREFIX + "/auth/"):
        statuses |= {401, 429}  # wrong credentials; the sign-in limiter
    if parameters or has_body:
        statuses.add(422)
    if has_body:
        statuses.add(413)
    if has_path:
        statuses.add(404)
    if method in _WRITES:
        statuses |= {400, 404, 409, 422}
    return statuses


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "required": False}}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "required": False}}
    return response


def add_problem_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Declare every operation's error responses as problem documents (in place; returns it)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[PROBLEM_SCHEMA] = _PROBLEM
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(path, method, operation)):
                key = str(status)
                declared = responses.get(key, {})
                merged = _problem_response(status)
                if declared.get("description") and status != 422:
                    merged["description"] = declared["description"]
                responses[key] = merged
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the generated document with the problem responses added (built once, then cached)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_idempotency(add_problem_responses(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
