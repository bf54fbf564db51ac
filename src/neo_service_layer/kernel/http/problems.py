"""RFC 9457 problem details: the one error shape of the API."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

PROBLEM_TYPE_BASE = "https://neo-service-layer.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def problem_body(
    status: int,
    *,
    code: str,
    detail: str,
    instance: str,
    correlation_id: str,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "correlation_id": correlation_id,
    }
    if extra:
        body.update(extra)
    return body


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_CONTENT_TYPE


def problem_response(
    status: int,
    *,
    code: str,
    detail: str,
    instance: str,
    correlation_id: str,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    return ProblemResponse(
        problem_body(
            status,
            code=code,
            detail=detail,
            instance=instance,
            correlation_id=correlation_id,
            title=title,
            extra=extra,
        ),
        status_code=status,
        headers=headers,
    )
