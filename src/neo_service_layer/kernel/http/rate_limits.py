"""Per-client-IP rate limiting at the edge, ``RateLimit-*`` headers, and the 429 problem.

The middleware counts every ``/api/v1`` and ``/.well-known`` request against the client IP's limit for
the route's group, before any work; the security dependency counts authenticated requests again per
principal (see ``security.py``). Both decisions land in the request state; the tighter one is reported
in ``RateLimit-Limit`` / ``RateLimit-Remaining`` / ``RateLimit-Reset`` on every limited response, and a
refusal is a 429 problem with ``Retry-After``.

The client IP is the socket peer, or, only when the peer is one of ``NSL_TRUSTED_PROXIES`` (addresses or
CIDR networks), the right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neo_service_layer.kernel.http.problems import problem_response
from neo_service_layer.kernel.identity.rules.rate_limits import RateDecision, RateLimited, RouteGroup

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LIMITED_PREFIXES = ("/api/v1/", "/.well-known/")
_AUTH_PATHS = ("/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/mfa/")


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(scope: Scope, trusted: Sequence[Network]) -> str:
    """The address to count and audit; forwarded headers are believed only from trusted proxies."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    if not peer or not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded.extend(part.strip() for part in value.decode("latin-1").split(","))
    for candidate in reversed(forwarded):
        if not candidate:
            continue
        if not _is_trusted(candidate, trusted):
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                return peer
    return peer


def route_group(path: str) -> RouteGroup | None:
    """The limit group of a path; ``None`` for paths that are not limited (health, metrics, docs)."""
    if not path.startswith(_LIMITED_PREFIXES):
        return None
    if path.startswith(_AUTH_PATHS):
        return RouteGroup.AUTH
    if "/api-keys" in path or path.startswith("/api/v1/keys"):
        return RouteGroup.KEY_MANAGEMENT
    return RouteGroup.GENERAL


def rate_limit_headers(decision: RateDecision, *, refused: bool = False) -> dict[str, str]:
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_after),
    }
    if refused:
        headers["Retry-After"] = str(max(1, decision.reset_after))
    return headers


def too_many_requests(path: str, request_id: str, decision: RateDecision, detail: str) -> Response:
    return problem_response(
        429,
        code="rate-limited",
        detail=detail,
        instance=path,
        correlation_id=request_id,
        headers=rate_limit_headers(decision, refused=True),
    )


async def rate_limited_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    request.state.rate_limit = exc.decision
    return too_many_requests(
        request.url.path, str(getattr(request.state, "request_id", "")), exc.decision, str(exc)
    )


class RateLimitMiddleware:
    """Per-IP limit and ``RateLimit-*`` headers. Reads the limiter from the container at request time."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[str]) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        structlog.contextvars.unbind_contextvars("tenant")  # bound again by authentication
        state: dict[str, Any] = scope.setdefault("state", {})
        state["client_ip"] = client_ip(scope, self.trusted)
        group = route_group(scope["path"])
        container = getattr(getattr(scope.get("app"), "state", None), "container", None)
        identity = getattr(container, "identity", None)
        if group is None or identity is None or not identity.rate_limits.enabled:
            await self.app(scope, receive, send)
            return
        state["rate_limit_group"] = group
        limit = identity.rate_limits.for_ip(group)
        decision = await identity.rate_limiter.hit(limit, group.value, "ip", state["client_ip"] or "unknown")
        state["rate_limit"] = decision
        if not decision.allowed:
            response = too_many_requests(
                scope["path"],
                str(state.get("request_id", "")),
                decision,
                "too many requests from this address; slow down",
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                current: RateDecision | None = state.get("rate_limit")
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                if current is not None and b"ratelimit-limit" not in present:
                    for name, value in rate_limit_headers(current).items():
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
