"""``/api/v1/users``: the installation's accounts, administered by a superadmin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from neo_service_layer.kernel.http.security import Meta, identity_of, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes

router = APIRouter(prefix="/users", tags=["tenants"])

PlatformAdmin = Annotated[Principal, Depends(require_scope(Scopes.PLATFORM_ADMIN))]


@router.post(
    "/{user_id}/disable",
    status_code=204,
    summary="Disable an account: no more sign-ins; its sessions and the API keys it created end (superadmin)",
)
async def disable_user(
    user_id: Annotated[str, Path(min_length=1, max_length=64)],
    principal: PlatformAdmin,
    request: Request,
    meta: Meta,
) -> None:
    await identity_of(request).identity.disable_user(principal, user_id, meta=meta)
