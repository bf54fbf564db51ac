"""API keys of a tenant: ``Authorization: Bearer nsl_<prefix>_<secret>``, shown once at creation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, Field

from neo_service_layer.kernel.http.idempotency import IDEMPOTENT_ONCE
from neo_service_layer.kernel.http.security import Meta, identity_of, require_tenant_scope
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.kernel.identity.rules.api_keys import ApiKey

router = APIRouter(prefix="/tenants/{tenant_id}/api-keys", tags=["api-keys"])

KeyAdmin = Annotated[Principal, Depends(require_tenant_scope(Scopes.APIKEYS_ADMIN))]


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=32, examples=[["keys:sign", "randomness:request"]])
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            prefix=key.prefix,
            name=key.name,
            scopes=sorted(key.scopes),
            created_by=key.created_by,
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown only in this response; store it now.")


@router.post(
    "",
    status_code=201,
    summary="Create an API key with a subset of your scopes",
    dependencies=[IDEMPOTENT_ONCE],
)
async def create_key(
    tenant_id: str, body: ApiKeyCreate, principal: KeyAdmin, request: Request, meta: Meta
) -> ApiKeyCreated:
    key, secret = await identity_of(request).api_keys.create(
        principal, tenant_id, name=body.name, scopes=body.scopes, expires_at=body.expires_at, meta=meta
    )
    return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), key=secret)


@router.get("", summary="List the tenant's API keys (by prefix; never the secret)")
async def list_keys(tenant_id: str, principal: KeyAdmin, request: Request) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(k) for k in await identity_of(request).api_keys.list_keys(principal, tenant_id)]


@router.get("/{key_id}", summary="One API key")
async def get_key(tenant_id: str, key_id: str, principal: KeyAdmin, request: Request) -> ApiKeyOut:
    return ApiKeyOut.of(await identity_of(request).api_keys.get(principal, tenant_id, key_id))


@router.delete("/{key_id}", summary="Revoke an API key (it is refused from then on)")
async def revoke_key(
    tenant_id: str, key_id: str, principal: KeyAdmin, request: Request, meta: Meta
) -> ApiKeyOut:
    return ApiKeyOut.of(await identity_of(request).api_keys.revoke(principal, tenant_id, key_id, meta=meta))
