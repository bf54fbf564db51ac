"""Sign-in, token refresh, logout, TOTP enrolment, and the public signing keys (JWKS)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, SecretStr

from neo_service_layer.kernel.http.security import Authenticated, Meta, identity_of, require_scope
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.kernel.identity.use_cases.sessions import IssuedTokens

router = APIRouter(prefix="/auth", tags=["auth"])
wellknown = APIRouter(tags=["auth"])

SelfService = Annotated[Principal, Depends(require_scope(Scopes.AUTH_MFA))]


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: SecretStr = Field(min_length=1, max_length=1024)
    tenant: str | None = Field(
        default=None, max_length=64, description="Tenant id or name (optional if one)."
    )
    totp_code: str | None = Field(default=None, max_length=16)
    backup_code: str | None = Field(default=None, max_length=32)


class RefreshRequest(BaseModel):
    refresh_token: SecretStr = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int
    refresh_token: str | None
    refresh_expires_in: int | None
    tenant: str
    roles: list[str]
    scopes: list[str]
    mfa_enrollment_required: bool = Field(
        description="True: the account must enrol TOTP first; this token only allows MFA enrolment."
    )


class TotpEnrollResponse(BaseModel):
    otpauth_uri: str = Field(description="Shown once; load it into an authenticator app, then verify.")


class TotpVerifyRequest(BaseModel):
    code: str = Field(min_length=6, max_length=8)


class TotpVerifyResponse(BaseModel):
    backup_codes: list[str] = Field(description="Ten single-use codes; shown once, stored hashed.")


class WhoAmI(BaseModel):
    tenant: str
    subject: str
    kind: str
    roles: list[str]
    scopes: list[str]


def _tokens(issued: IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        refresh_expires_in=issued.refresh_expires_in,
        tenant=issued.tenant_id,
        roles=list(issued.roles),
        scopes=list(issued.scopes),
        mfa_enrollment_required=issued.mfa_enrollment_required,
    )


@router.post("/token", summary="Sign in with user name, password and (when enrolled) a TOTP code")
async def token(body: TokenRequest, request: Request, meta: Meta) -> TokenResponse:
    issued = await identity_of(request).auth.sign_in(
        body.username,
        body.password.get_secret_value(),
        tenant=body.tenant,
        totp_code=body.totp_code,
        backup_code=body.backup_code,
        meta=meta,
    )
    return _tokens(issued)


@router.post("/refresh", summary="Rotate a refresh token (a reused one revokes the whole session)")
async def refresh(body: RefreshRequest, request: Request, meta: Meta) -> TokenResponse:
    issued = await identity_of(request).auth.refresh(body.refresh_token.get_secret_value(), meta=meta)
    return _tokens(issued)


@router.post("/logout", status_code=204, summary="Revoke this access token and its session")
async def logout(principal: SelfService, request: Request, meta: Meta) -> None:
    await identity_of(request).auth.logout(principal, meta=meta)


@router.get("/me", summary="Who the presented credential is")
async def me(principal: Authenticated) -> WhoAmI:
    return WhoAmI(
        tenant=principal.tenant_id,
        subject=principal.subject,
        kind=principal.kind.value,
        roles=sorted(principal.roles),
        scopes=sorted(principal.scopes),
    )


@router.post("/mfa/totp/enroll", summary="Start TOTP enrolment; returns the otpauth URI once")
async def totp_enroll(principal: SelfService, request: Request, meta: Meta) -> TotpEnrollResponse:
    uri = await identity_of(request).auth.start_totp(principal, meta=meta)
    return TotpEnrollResponse(otpauth_uri=uri)


@router.post("/mfa/totp/verify", summary="Activate TOTP with a first code; returns 10 backup codes once")
async def totp_verify(
    body: TotpVerifyRequest, principal: SelfService, request: Request, meta: Meta
) -> TotpVerifyResponse:
    codes = await identity_of(request).auth.confirm_totp(principal, body.code, meta=meta)
    return TotpVerifyResponse(backup_codes=codes)


@wellknown.get("/.well-known/jwks.json", summary="Public keys that verify access tokens (ES256)")
async def jwks(request: Request) -> dict[str, Any]:
    return dict(await identity_of(request).codec.jwks())
