"""Pure ASGI middleware for the edge: request id, security headers, metrics, access log, body limit.

Written as raw ASGI (not ``BaseHTTPMiddleware``) so that they add microseconds, not milliseconds, and
so that the outermost layer can turn any unhandled exception into a 500 problem that still carries the
request id and the security headers.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neo_service_layer.kernel.http.problems import problem_response
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.observability.metrics import HttpMetrics
from neo_service_layer.kernel.observability.tracing import caller_context, process_tracing, traced

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
UNMATCHED_ROUTE = "<unmatched>"

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains; preload"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"permissions-policy",
        b"accelerometer=(), camera=(), geolocation=(), microphone=(), payment=(), usb=()",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)
_DOCS_PATHS = ("/docs", "/redoc", "/static/docs/")
_CONSOLE_PATHS = ("/console/",)

log = get_logger("nsl.http")
_access_log = logging.getLogger("nsl.http")


def _csp_for(path: str) -> bytes:
    """The docs need inline bootstrapping; the console needs none (``'self'`` only); the API needs nothing."""
    if path.startswith(_DOCS_PATHS):
        return DOCS_CSP.encode()
    if path == "/console" or path.startswith(_CONSOLE_PATHS):
        return CONSOLE_CSP.encode()
    return API_CSP.encode()


def new_request_id() -> str:
    """128 bits as 32 hex digits, from the process's ``random`` generator.

    A correlation id must be unique, not secret (a caller may choose its own): the generator is seeded
    from the OS and reseeded in a forked child, and needs no system call per request as
    ``os.urandom`` and ``uuid4`` do.
    """
    return f"{random.getrandbits(128):032x}"


def request_id_from(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, otherwise a fresh one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
            break
    return new_request_id()


def route_template(scope: Scope) -> str:
    """The matched route's template (``/api/v1/keys/{key_id}``), read after routing, for metric labels.

    FastAPI stores the matched route (with its path relative to the innermost router) in the scope; the
    prefix is whatever of the concrete path precedes the route's own concrete part.
    """
    route = scope.get("route")
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        mount = scope.get("root_path", "")
        return f"{mount}/{{path}}" if mount and "endpoint" in scope else UNMATCHED_ROUTE
    params: dict[str, Any] = scope.get("path_params") or {}
    try:
        concrete = path_format.format(**{k: str(v) for k, v in params.items()})
    except (KeyError, IndexError, ValueError):
        return path_format
    path: str = scope["path"]
    if concrete and path.endswith(concrete):
        return path[: len(path) - len(concrete)] + path_format
    return path_format


class EdgeMiddleware:
    """Outermost layer: request id, security headers, RED metrics, access log, last-resort 500."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not process_tracing():  # no span to build: the no-op provider would throw it away
            await self._serve(scope, receive, send, INVALID_SPAN)
            return
        attributes = {"http.request.method": scope["method"]}
        parent = caller_context(scope["headers"])
        async with traced("http.request", attributes, kind=SpanKind.SERVER, context=parent) as span:
            await self._serve(scope, receive, send, span)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, span: Span) -> None:
        request_id = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        method = scope["method"]
        path: str = scope["path"]
        csp = _csp_for(path)
        rid = request_id.encode()
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k not in (b"server", b"x-request-id")
                ]
                headers.append((b"x-request-id", rid))
                headers.append((b"content-security-policy", csp))
                headers.extend(SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        in_flight = self.metrics.started(method)
        in_flight.inc()
        start = time.perf_counter()
        try:
            await self._call_app(scope, receive, send_wrapper, request_id, lambda: started)
        finally:
            duration = time.perf_counter() - start
            in_flight.dec()
            route = route_template(scope)
            span.update_name(f"{method} {route}")
            span.set_attributes({"http.route": route, "http.response.status_code": status})
            self.metrics.answered(route, method, status, duration)
            if _access_log.isEnabledFor(logging.INFO):  # the line's processing costs, even when dropped
                log.info(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(duration * 1000, 3),
                    client=_client(scope),
                )
            structlog.contextvars.unbind_contextvars("request_id")

    async def _call_app(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, started: Callable[[], bool]
    ) -> None:
        """Run the app; an exception it lets out is logged and, if nothing was sent yet, becomes a 500."""
        try:
            await self.app(scope, receive, send)
        except Exception:
            log.exception("unhandled error", method=scope["method"], route=route_template(scope))
            if started():
                return
            response = problem_response(
                500,
                code="internal-error",
                detail="The server failed to handle this request; quote the correlation id to support.",
                instance=scope["path"],
                correlation_id=request_id,
            )
            await response(scope, receive, send)


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


class BodyTooLarge(HTTPException):
    """The request body exceeded the configured limit (an HTTPException so FastAPI re-raises it)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body is larger than {max_bytes} bytes.")


class BodyLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: dict[str, Any] = scope.get("state", {})
        response = problem_response(
            413,
            code="body-too-large",
            detail=f"Request body is larger than {self.max_bytes} bytes.",
            instance=scope["path"],
            correlation_id=str(state.get("request_id", "")),
            headers={"connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
