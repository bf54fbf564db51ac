"""Sign-in and sessions, tenants, members, API keys, and the installation's health and version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nsl_client.calls import Call, Effect, as_json, list_parser, nothing, parser, register
from nsl_client.models import (
    ApiKey,
    ApiKeyCreated,
    EnclaveCredentials,
    Member,
    SystemInfo,
    Tenant,
    TokenResponse,
    TotpEnrollment,
    TotpVerified,
    WhoAmI,
)

SIGN_IN = register(
    "sign_in",
    "POST",
    "/api/v1/auth/token",
    TokenResponse,
    authenticated=False,
    effect=Effect.STORE_TOKENS,
)
REFRESH = register(
    "refresh_tokens",
    "POST",
    "/api/v1/auth/refresh",
    TokenResponse,
    authenticated=False,
    effect=Effect.STORE_TOKENS,
)
LOGOUT = register("logout", "POST", "/api/v1/auth/logout", effect=Effect.CLEAR_TOKENS)
ME = register("me", "GET", "/api/v1/auth/me", WhoAmI)
ENROLL_TOTP = register("enroll_totp", "POST", "/api/v1/auth/mfa/totp/enroll", TotpEnrollment)
VERIFY_TOTP = register("verify_totp", "POST", "/api/v1/auth/mfa/totp/verify", TotpVerified)
HEALTH = register("health", "GET", "/health/ready", authenticated=False)
SYSTEM_INFO = register("system_info", "GET", "/api/v1/system/info", SystemInfo, authenticated=False)
LIST_TENANTS = register("list_tenants", "GET", "/api/v1/tenants", Tenant, many=True)
CREATE_TENANT = register("create_tenant", "POST", "/api/v1/tenants", Tenant, creates=True)
GET_TENANT = register("get_tenant", "GET", "/api/v1/tenants/{tenant_id}", Tenant)
LIST_MEMBERS = register("list_members", "GET", "/api/v1/tenants/{tenant_id}/members", Member, many=True)
ADD_MEMBER = register("add_member", "POST", "/api/v1/tenants/{tenant_id}/members", Member, creates=True)
CHANGE_ROLE = register("change_member_role", "PATCH", "/api/v1/tenants/{tenant_id}/members/{user_id}", Member)
REMOVE_MEMBER = register("remove_member", "DELETE", "/api/v1/tenants/{tenant_id}/members/{user_id}")
CREATE_API_KEY = register(
    "create_api_key", "POST", "/api/v1/tenants/{tenant_id}/api-keys", ApiKeyCreated, creates=True
)
LIST_API_KEYS = register("list_api_keys", "GET", "/api/v1/tenants/{tenant_id}/api-keys", ApiKey, many=True)
GET_API_KEY = register("get_api_key", "GET", "/api/v1/tenants/{tenant_id}/api-keys/{key_id}", ApiKey)
REVOKE_API_KEY = register("revoke_api_key", "DELETE", "/api/v1/tenants/{tenant_id}/api-keys/{key_id}", ApiKey)
GET_ENCLAVE_CREDENTIALS = register(
    "get_enclave_credentials", "GET", "/api/v1/tenants/{tenant_id}/enclave-credentials", EnclaveCredentials
)
SET_ENCLAVE_CREDENTIALS = register(
    "set_enclave_credentials", "PUT", "/api/v1/tenants/{tenant_id}/enclave-credentials", EnclaveCredentials
)
DISABLE_USER = register("disable_user", "POST", "/api/v1/users/{user_id}/disable")


def sign_in(
    username: str,
    password: str,
    *,
    totp_code: str | None = None,
    backup_code: str | None = None,
    tenant: str | None = None,
) -> Call[TokenResponse]:
    """Sign in; the client keeps the tokens and refreshes them itself."""
    body = {"username": username, "password": password, "totp_code": totp_code, "backup_code": backup_code}
    if tenant is not None:
        body["tenant"] = tenant
    return SIGN_IN.call(parser(TokenResponse), json=body)


def refresh_tokens(refresh_token: str) -> Call[TokenResponse]:
    """Rotate a refresh token (the old one stops working: presenting it again ends the session)."""
    return REFRESH.call(parser(TokenResponse), json={"refresh_token": refresh_token})


def logout() -> Call[None]:
    """Revoke the session; the client forgets its tokens."""
    return LOGOUT.call(nothing)


def me() -> Call[WhoAmI]:
    return ME.call(parser(WhoAmI))


def enroll_totp() -> Call[TotpEnrollment]:
    """Start TOTP enrolment: the ``otpauth://`` URI, shown once."""
    return ENROLL_TOTP.call(parser(TotpEnrollment))


def verify_totp(code: str) -> Call[TotpVerified]:
    """Activate TOTP with a first code; answers ten single-use backup codes."""
    return VERIFY_TOTP.call(parser(TotpVerified), json={"code": code})


def health() -> Call[Any]:
    """``/health/ready`` as JSON (database, enclave, chain, workers); 503 raises ``ServiceUnavailable``."""
    return HEALTH.call(as_json)


def system_info() -> Call[SystemInfo]:
    return SYSTEM_INFO.call(parser(SystemInfo))


def list_tenants() -> Call[list[Tenant]]:
    return LIST_TENANTS.call(list_parser(Tenant))


def create_tenant(name: str, *, plan: str | None = None, idempotency_key: str | None = None) -> Call[Tenant]:
    body: dict[str, Any] = {"name": name}
    if plan is not None:
        body["plan"] = plan
    return CREATE_TENANT.call(parser(Tenant), json=body, idempotency_key=idempotency_key)


def get_tenant(tenant_id: str) -> Call[Tenant]:
    return GET_TENANT.call(parser(Tenant), path={"tenant_id": tenant_id})


def list_members(tenant_id: str) -> Call[list[Member]]:
    return LIST_MEMBERS.call(list_parser(Member), path={"tenant_id": tenant_id})


def add_member(
    tenant_id: str,
    username: str,
    role: str,
    *,
    password: str | None = None,
    idempotency_key: str | None = None,
) -> Call[Member]:
    """Add a user (created with ``password`` when new) to a tenant with a role."""
    body = {"username": username, "role": role, "password": password}
    return ADD_MEMBER.call(
        parser(Member), path={"tenant_id": tenant_id}, json=body, idempotency_key=idempotency_key
    )


def change_member_role(tenant_id: str, user_id: str, role: str) -> Call[Member]:
    return CHANGE_ROLE.call(
        parser(Member), path={"tenant_id": tenant_id, "user_id": user_id}, json={"role": role}
    )


def remove_member(tenant_id: str, user_id: str) -> Call[None]:
    return REMOVE_MEMBER.call(nothing, path={"tenant_id": tenant_id, "user_id": user_id})


def create_api_key(
    tenant_id: str,
    name: str,
    scopes: Sequence[str],
    *,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> Call[ApiKeyCreated]:
    """A new API key; its ``key`` is shown only in this answer."""
    body = {
        "name": name,
        "scopes": list(scopes),
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    return CREATE_API_KEY.call(
        parser(ApiKeyCreated), path={"tenant_id": tenant_id}, json=body, idempotency_key=idempotency_key
    )


def list_api_keys(tenant_id: str) -> Call[list[ApiKey]]:
    return LIST_API_KEYS.call(list_parser(ApiKey), path={"tenant_id": tenant_id})


def get_api_key(tenant_id: str, key_id: str) -> Call[ApiKey]:
    return GET_API_KEY.call(parser(ApiKey), path={"tenant_id": tenant_id, "key_id": key_id})


def revoke_api_key(tenant_id: str, key_id: str) -> Call[ApiKey]:
    return REVOKE_API_KEY.call(parser(ApiKey), path={"tenant_id": tenant_id, "key_id": key_id})


def get_enclave_credentials(tenant_id: str) -> Call[EnclaveCredentials]:
    """Whether the enclave checks the tenant's own API key on every use of its keys."""
    return GET_ENCLAVE_CREDENTIALS.call(parser(EnclaveCredentials), path={"tenant_id": tenant_id})


def set_enclave_credentials(
    tenant_id: str, enabled: bool, *, fresh_start: bool = False
) -> Call[EnclaveCredentials]:
    """Switch enclave-checked credentials on or off; needs an API key of the tenant with
    ``tenants:admin`` (a session is refused). While on, sessions cannot use the tenant's keys; with
    ``fresh_start`` every other API key issued before now stops working for them."""
    body = {"enabled": enabled, "fresh_start": fresh_start}
    return SET_ENCLAVE_CREDENTIALS.call(parser(EnclaveCredentials), path={"tenant_id": tenant_id}, json=body)


def disable_user(user_id: str) -> Call[None]:
    """Disable an account (superadmin): no more sign-ins; its sessions and the API keys it created end."""
    return DISABLE_USER.call(nothing, path={"user_id": user_id})
