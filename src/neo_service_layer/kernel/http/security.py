"""Authentication and authorisation dependencies: every route declares the scope it needs.

Usage in a router of a later service::

    from neo_service_layer.kernel.http.security import require_scope, require_tenant_scope

    @router.post("/keys/{key_id}/sign")
    async def sign(key_id: str, principal: Annotated[Principal, Depends(require_scope("keys:sign"))]):
        ...  # principal.tenant_id is the caller's tenant; pass it to the service

    @router.get("/tenants/{tenant_id}/things")
    async def things(principal: Annotated[Principal, Depends(require_tenant_scope("keys:read"))]):
        ...  # also checked: the path's tenant_id is the caller's tenant (403 otherwise)

No or bad credentials -> 401 (``Unauthenticated``), a missing scope or another tenant -> 403
(``PermissionDenied``); both as problem+json through the error handlers of the edge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from neo_service_layer.enclave.wire.errors import Unauthenticated
from neo_service_layer.kernel.identity.parts import Identity
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.rate_limits import RateDecision, RateLimited, RouteGroup

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An access token from POST /api/v1/auth/token, or an API key `nsl_<prefix>_<secret>`.",
)

#: attribute set on scope dependencies, so that tests can check every route declares one
SCOPE_ATTRIBUTE = "__nsl_scope__"


def identity_of(request: Request) -> Identity:
    return request.app.state.container.iam  # type: ignore[no-any-return]


def request_meta(request: Request) -> RequestMeta:
    client = getattr(request.state, "client_ip", None)
    if client is None:
        client = request.client.host if request.client else ""
    return RequestMeta(request_id=str(getattr(request.state, "request_id", "")), client_ip=str(client))


async def _meta(request: Request) -> RequestMeta:
    # a coroutine, so that FastAPI calls it inline rather than in its thread pool
    return request_meta(request)


Meta = Annotated[RequestMeta, Depends(_meta)]


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller, from ``Authorization: Bearer ...``; counts the request against its rate limit."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("this route needs `Authorization: Bearer <access token or API key>`")
    identity = identity_of(request)
    principal = await identity.auth.authenticate(credentials.credentials, meta=request_meta(request))
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(tenant=principal.tenant_id)
    await _limit_principal(request, identity, principal)
    return principal


async def _limit_principal(request: Request, identity: Identity, principal: Principal) -> None:
    policy = identity.rate_limits
    if not policy.enabled:
        return
    group = getattr(request.state, "rate_limit_group", None) or RouteGroup.GENERAL
    limit = policy.for_principal(group, principal.plan)
    decision = await identity.rate_limiter.hit(
        limit, group.value, "principal", principal.tenant_id, principal.actor
    )
    earlier: RateDecision | None = getattr(request.state, "rate_limit", None)
    request.state.rate_limit = decision.tighter(earlier)
    if decision.allowed:
        return
    # one audit entry per principal, group and minute, however long the flood
    marker = await identity.rate_limiter.hit("1/minute", "audit-429", group.value, principal.actor)
    if marker.allowed:
        meta = request_meta(request)
        await identity.audit_log.record(
            AuditRecord(
                tenant_id=principal.tenant_id,
                actor=principal.actor,
                action=Actions.RATE_LIMITED,
                outcome=Outcome.DENIED,
                target=f"route-group:{group.value}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details={"limit": limit},
            )
        )
    raise RateLimited(decision, f"rate limit {limit} for {group.value} routes exceeded; slow down")


Authenticated = Annotated[Principal, Depends(authenticate)]


def require_scope(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency returning the caller when it holds ``scope`` (401 unauthenticated, 403 without)."""

    async def dependency(principal: Authenticated) -> Principal:
        principal.require(scope)
        return principal

    setattr(dependency, SCOPE_ATTRIBUTE, scope)
    return dependency


def require_tenant_scope(scope: str, param: str = "tenant_id") -> Callable[..., Awaitable[Principal]]:
    """Like :func:`require_scope`, and the path parameter ``param`` must be the caller's tenant (403)."""

    async def dependency(request: Request, principal: Authenticated) -> Principal:
        principal.require(scope)
        principal.require_tenant(str(request.path_params.get(param, "")))
        return principal

    setattr(dependency, SCOPE_ATTRIBUTE, scope)
    return dependency


def declared_scopes(dependant: Any) -> list[str]:
    """Scopes declared anywhere in a route's dependency tree (for the route audit test and docs)."""
    found: list[str] = []
    call = getattr(dependant, "call", None)
    if call is not None and hasattr(call, SCOPE_ATTRIBUTE):
        found.append(getattr(call, SCOPE_ATTRIBUTE))
    for sub in getattr(dependant, "dependencies", ()):
        found.extend(declared_scopes(sub))
    return found
