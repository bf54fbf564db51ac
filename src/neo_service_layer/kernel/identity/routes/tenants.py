"""Tenants and their members (roles per tenant)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, SecretStr

from neo_service_layer.kernel.http.idempotency import IDEMPOTENT
from neo_service_layer.kernel.http.security import Meta, identity_of, require_scope, require_tenant_scope
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.kernel.identity.rules.accounts import Membership, Role, Tenant

router = APIRouter(prefix="/tenants", tags=["tenants"])

PlatformAdmin = Annotated[Principal, Depends(require_scope(Scopes.PLATFORM_ADMIN))]
MembersReader = Annotated[Principal, Depends(require_tenant_scope(Scopes.MEMBERS_READ))]
TenantAdmin = Annotated[Principal, Depends(require_tenant_scope(Scopes.TENANTS_ADMIN))]


class TenantCreate(BaseModel):
    name: str = Field(min_length=2, max_length=63, examples=["acme-dapp"])
    plan: str = Field(default="default", min_length=1, max_length=32)


class TenantOut(BaseModel):
    id: str
    name: str
    plan: str
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            id=tenant.id,
            name=tenant.name,
            plan=tenant.plan,
            active=tenant.active,
            created_at=tenant.created_at,
        )


class MemberAdd(BaseModel):
    username: str = Field(min_length=3, max_length=128)
    role: Role
    password: SecretStr | None = Field(
        default=None, max_length=1024, description="Only to create a new account; omit for an existing user."
    )


class RoleChange(BaseModel):
    role: Role


class MemberOut(BaseModel):
    user_id: str
    username: str
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, member: Membership) -> MemberOut:
        return cls(
            user_id=member.user_id, username=member.username, role=member.role, created_at=member.created_at
        )


@router.post("", status_code=201, summary="Create a tenant (superadmin)", dependencies=[IDEMPOTENT])
async def create_tenant(
    body: TenantCreate, principal: PlatformAdmin, request: Request, meta: Meta
) -> TenantOut:
    tenant = await identity_of(request).identity.create_tenant(
        principal, body.name, plan=body.plan, meta=meta
    )
    return TenantOut.of(tenant)


@router.get("", summary="List tenants (superadmin)")
async def list_tenants(principal: PlatformAdmin, request: Request) -> list[TenantOut]:
    return [TenantOut.of(t) for t in await identity_of(request).identity.list_tenants(principal)]


@router.get("/{tenant_id}", summary="One tenant")
async def get_tenant(tenant_id: str, principal: MembersReader, request: Request) -> TenantOut:
    return TenantOut.of(await identity_of(request).identity.get_tenant(principal, tenant_id))


@router.get("/{tenant_id}/members", summary="Members of a tenant and their roles")
async def list_members(tenant_id: str, principal: MembersReader, request: Request) -> list[MemberOut]:
    members = await identity_of(request).identity.list_members(principal, tenant_id)
    return [MemberOut.of(m) for m in members]


@router.post(
    "/{tenant_id}/members",
    status_code=201,
    summary="Add a user (new or existing) with a role",
    dependencies=[IDEMPOTENT],
)
async def add_member(
    tenant_id: str, body: MemberAdd, principal: TenantAdmin, request: Request, meta: Meta
) -> MemberOut:
    member = await identity_of(request).identity.add_member(
        principal,
        tenant_id,
        username=body.username,
        role=body.role,
        password=body.password.get_secret_value() if body.password else None,
        meta=meta,
    )
    return MemberOut.of(member)


@router.patch("/{tenant_id}/members/{user_id}", summary="Change a member's role (audited)")
async def change_role(
    tenant_id: str, user_id: str, body: RoleChange, principal: TenantAdmin, request: Request, meta: Meta
) -> MemberOut:
    member = await identity_of(request).identity.change_role(
        principal, tenant_id, user_id, body.role, meta=meta
    )
    return MemberOut.of(member)


@router.delete("/{tenant_id}/members/{user_id}", status_code=204, summary="Remove a member (audited)")
async def remove_member(
    tenant_id: str, user_id: str, principal: TenantAdmin, request: Request, meta: Meta
) -> None:
    await identity_of(request).identity.remove_member(principal, tenant_id, user_id, meta=meta)


class EnclaveCredentials(BaseModel):
    enabled: bool = Field(
        description=(
            "When true the enclave itself refuses every use of the tenant's keys (sign, create, rotate, "
            "disable, destroy, re-syncing a remembered import source) that does not carry one of the "
            "tenant's own API keys with the operation's scope: a compromised API process cannot use "
            "them, and sessions (password, TOTP) cannot either. Default false."
        )
    )


class EnclaveCredentialsSwitch(EnclaveCredentials):
    fresh_start: bool = Field(
        default=False,
        description=(
            "With enabled: every API key of the tenant issued before now stops working for its keys, "
            "except the one making this call (re-issue the others). Use it when a key may have been "
            "minted while the tenant did not enforce."
        ),
    )


_SWITCH_RESPONSES: dict[int | str, dict[str, str]] = {
    403: {"description": "missing scope, a session instead of an API key, or the enclave refused the key"},
    503: {"description": "no enclave is configured or it cannot be reached"},
}


@router.get(
    "/{tenant_id}/enclave-credentials",
    summary="Whether the enclave checks this tenant's own API key on every use of its keys",
    responses=_SWITCH_RESPONSES,
)
async def get_enclave_credentials(
    tenant_id: str, principal: TenantAdmin, request: Request
) -> EnclaveCredentials:
    enabled = await identity_of(request).enclave_credentials.enabled(principal, tenant_id)
    return EnclaveCredentials(enabled=enabled)


@router.put(
    "/{tenant_id}/enclave-credentials",
    summary="Switch enclave-checked credentials on or off (an API key of the tenant with tenants:admin)",
    responses=_SWITCH_RESPONSES,
)
async def put_enclave_credentials(
    tenant_id: str, body: EnclaveCredentialsSwitch, principal: TenantAdmin, request: Request, meta: Meta
) -> EnclaveCredentials:
    switch = identity_of(request).enclave_credentials
    enabled = await switch.switch(principal, tenant_id, body.enabled, fresh_start=body.fresh_start, meta=meta)
    return EnclaveCredentials(enabled=enabled)
